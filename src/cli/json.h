/* cli/json.h — a minimal streaming JSON writer for `-j` output (OpenZFS 2.3 layout). Compact
 * output, strings escaped per RFC 8259. Caller balances open/close calls. */
#ifndef TARN_CLI_JSON_H
#define TARN_CLI_JSON_H

#include <stdio.h>

typedef struct json {
	FILE *f;
	int depth;
	int first[32]; /* no member written yet at this depth */
} json_t;

void json_init(json_t *j, FILE *f);
void json_obj_open(json_t *j, const char *key); /* key NULL at top level or in arrays */
void json_obj_close(json_t *j);
void json_str(json_t *j, const char *key, const char *val);
void json_raw(json_t *j, const char *key, const char *literal); /* numbers */
/* Print the "output_version" member OpenZFS puts first. */
void json_version(json_t *j, const char *command);

#endif
