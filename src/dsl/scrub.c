/* dsl/scrub.c — scrub (read and verify every live block) and the pool-level records that
 * `zpool status` shows across processes: scan results and persistent error counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsl/dsl.h"
#include "util/err.h"

const char *dsl_pprop_get(const dsl_t *d, const char *name)
{
	for (size_t i = 0; i < d->npprops; i++)
		if (!strcmp(d->pprops[i].name, name))
			return d->pprops[i].value;
	return NULL;
}

int dsl_pprop_set(dsl_t *d, const char *name, const char *value)
{
	dsl_changed(d);
	for (size_t i = 0; i < d->npprops; i++)
		if (!strcmp(d->pprops[i].name, name)) {
			char *v = strdup(value);
			if (!v)
				return terr(ENOMEM, "out of memory");
			free(d->pprops[i].value);
			d->pprops[i].value = v;
			return 0;
		}
	dsl_prop_t *np = realloc(d->pprops, (d->npprops + 1) * sizeof(*np));
	if (!np)
		return terr(ENOMEM, "out of memory");
	d->pprops = np;
	char *n = strdup(name), *v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return terr(ENOMEM, "out of memory");
	}
	d->pprops[d->npprops++] = (dsl_prop_t){ n, v, PROP_LOCAL };
	return 0;
}

struct scrub_state {
	pool_t *p;
	uint64_t examined, errors;
};

static int scrub_cb(void *arg, const bp_t *bp)
{
	struct scrub_state *s = arg;
	if (bp_is_hole(bp))
		return 0;
	s->examined += bp_asize(bp);
	if (pool_verify_block(s->p, bp) < 0) {
		s->errors++;
		terr_clear();
	}
	return 0;
}

int dsl_scrub(dsl_t *d, uint64_t *examined, uint64_t *errors)
{
	struct scrub_state s = { d->pool, 0, 0 };
	char buf[64];
	uint64_t start = (uint64_t)time(NULL);
	uint64_t unreadable = 0; /* indirect or chain blocks: what is below them is not reached */
	TRY(dsl_walk_all(d, scrub_cb, &s, &unreadable));
	s.errors += unreadable;
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)start);
	TRY(dsl_pprop_set(d, "scan.start", buf));
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)time(NULL));
	TRY(dsl_pprop_set(d, "scan.end", buf));
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)s.examined);
	TRY(dsl_pprop_set(d, "scan.examined", buf));
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)s.errors);
	TRY(dsl_pprop_set(d, "scan.errors", buf));
	*examined = s.examined;
	*errors = s.errors;
	return 0;
}

int dsl_record_errors(dsl_t *d)
{
	pool_t *p = d->pool;
	int changed = 0;
	for (int i = 0; i < p->nvdevs; i++) {
		vdev_t *v = &p->vdevs[i];
		if (!v->read_errors && !v->write_errors && !v->cksum_errors)
			continue;
		char name[64], val[96];
		unsigned long long r = 0, w = 0, c = 0;
		snprintf(name, sizeof(name), "errors.vdev%d", i);
		const char *old = dsl_pprop_get(d, name);
		if (old && sscanf(old, "%llu %llu %llu", &r, &w, &c) != 3)
			r = w = c = 0;
		snprintf(val, sizeof(val), "%llu %llu %llu", r + v->read_errors, w + v->write_errors, c + v->cksum_errors);
		TRY(dsl_pprop_set(d, name, val));
		v->read_errors = v->write_errors = v->cksum_errors = 0;
		changed = 1;
	}
	if (p->cksum_errors || p->io_errors) {
		unsigned long long e = 0;
		const char *old = dsl_pprop_get(d, "errors.data");
		if (old)
			e = strtoull(old, NULL, 10);
		char val[32];
		snprintf(val, sizeof(val), "%llu", e + p->cksum_errors + p->io_errors);
		TRY(dsl_pprop_set(d, "errors.data", val));
		p->cksum_errors = p->io_errors = 0;
		changed = 1;
	}
	return changed;
}
