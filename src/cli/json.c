/* cli/json.c — minimal JSON writer (see json.h). */
#include "cli/json.h"

void json_init(json_t *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->first[0] = 1;
}

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if (*c == '\n')
			fputs("\\n", f);
		else if (*c == '\t')
			fputs("\\t", f);
		else if (*c < 0x20)
			fprintf(f, "\\u%04x", *c);
		else
			fputc(*c, f);
	}
	fputc('"', f);
}

static void member(json_t *j, const char *key)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = 0;
	if (key) {
		put_string(j->f, key);
		fputc(':', j->f);
	}
}

void json_obj_open(json_t *j, const char *key)
{
	if (j->depth > 0)
		member(j, key);
	fputc('{', j->f);
	if (j->depth < 31)
		j->depth++;
	j->first[j->depth] = 1;
}

void json_obj_close(json_t *j)
{
	fputc('}', j->f);
	if (j->depth > 0)
		j->depth--;
	if (j->depth == 0)
		fputc('\n', j->f);
}

void json_str(json_t *j, const char *key, const char *val)
{
	member(j, key);
	put_string(j->f, val);
}

void json_raw(json_t *j, const char *key, const char *literal)
{
	member(j, key);
	fputs(literal, j->f);
}

void json_version(json_t *j, const char *command)
{
	json_obj_open(j, "output_version");
	json_str(j, "command", command);
	json_raw(j, "vers_major", "0");
	json_raw(j, "vers_minor", "1");
	json_obj_close(j);
}
