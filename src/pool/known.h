/* pool/known.h — the known-pools cache ($TARN_HOME/pools.cache, like zpool.cache): which pools
 * this host has imported and where their devices are. One line per pool:
 * "name<TAB>guid<TAB>path<TAB>path...". Rewritten atomically (temp file + rename). */
#ifndef TARN_POOL_KNOWN_H
#define TARN_POOL_KNOWN_H

#include <stdint.h>

#include "pool/pool.h"

typedef struct known_pool {
	char name[POOL_NAME_MAX];
	uint64_t guid;
	int nvdevs;
	char *paths[POOL_MAX_VDEVS];
} known_pool_t;

/* The state directory: $TARN_HOME, else /var/lib/tarn. */
const char *known_home(void);
/* Load all entries (a missing file is an empty list). Caller frees with known_free. */
int known_load(known_pool_t **out, int *n);
void known_free(known_pool_t *k, int n);
/* Add or replace the entry for p / remove the entry named name. */
int known_add(const pool_t *p);
int known_remove(const char *name);

#endif
