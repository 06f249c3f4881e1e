/* cli/zfs.c — the zfs personality: create, destroy, snapshot, rollback, clone, list, get, set,
 * inherit. */
#include <getopt.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/json.h"
#include "cli/zfsprops.h"
#include "util/err.h"
#include "util/names.h"
#include "util/nicenum.h"
#include "util/strnum.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: zfs command args ...\n"
		   "where 'command' is one of the following:\n\n"
		   "\tcreate [-p] [-o property=value] ... <filesystem>\n"
		   "\tcreate [-ps] [-b blocksize] [-o property=value] ... -V <size> <volume>\n"
		   "\tdestroy [-r] <filesystem|volume>\n"
		   "\tdestroy [-r] <filesystem|volume>@<snap>[%%<snap>][,...]\n\n"
		   "\tsnapshot [-r] <filesystem|volume>@<snap> ...\n"
		   "\trollback [-r] <snapshot>\n"
		   "\tclone [-o property=value] ... <snapshot> <filesystem|volume>\n"
		   "\tpromote <clone-filesystem>\n"
		   "\trename [-f] <filesystem|volume|snapshot> <filesystem|volume|snapshot>\n"
		   "\trename [-f] -p <filesystem|volume> <filesystem|volume>\n"
		   "\trename -r <snapshot> <snapshot>\n"
		   "\tbookmark <snapshot|bookmark> <newbookmark>\n\n"
		   "\tsend [-DLPRbcehnpvw] [-i|-I snapshot] <snapshot>\n"
		   "\tsend [-nvP] -t <receive_resume_token>\n"
		   "\treceive [-vnsFu] [-o property=value] ... [-x property] ... [-d|-e] <target>\n"
		   "\treceive -A <filesystem|volume>\n\n"
		   "\thold [-r] <tag> <snapshot> ...\n"
		   "\tholds [-rHp] <snapshot> ...\n"
		   "\trelease [-r] <tag> <snapshot> ...\n\n"
		   "\tlist [-rH] [-p] [-j [--json-int]] [-d max] [-o property[,...]]\n"
		   "\t    [-s property]... [-S property]... [-t type[,...]]\n"
		   "\t    [filesystem|volume|snapshot] ...\n\n"
		   "\tset <property=value> ... <filesystem|volume>\n"
		   "\tget [-rHp] [-j [--json-int]] [-d max] [-o \"all\" | field[,...]]\n"
		   "\t    [-t type[,...]] [-s source[,...]]\n"
		   "\t    <\"all\" | property[,...]> [filesystem|volume|snapshot] ...\n"
		   "\tinherit <property> <filesystem|volume> ...\n\n"
		   "Filesystems are containers for volumes (tarn does not mount them). Volumes are\n"
		   "block devices backed by a copy-on-write block tree; `tarn volume read|write`\n"
		   "moves their bytes. Sizes accept suffixes (16K, 300M, 1.5G). A volume gets\n"
		   "refreservation = volsize plus metadata overhead unless created with -s.\n"
		   "Each command commits one transaction group atomically before it exits.\n");
}

static int usage_err(const char *msg)
{
	if (msg)
		fprintf(cli_err, "%s\n", msg);
	usage(cli_err);
	return 2;
}

/* Open the pool of `name` and look the dataset up; on failure print zfs's "cannot open" line
 * and return -1 (nothing is left open). */
static int open_ds(const char *name, cli_pool_t *cp, dsl_ds_t **ds)
{
	if (cli_open_for(name, cp) < 0) {
		cli_fail("open '%s'", name);
		return -1;
	}
	*ds = dsl_lookup(cp->dsl, name);
	if (!*ds) {
		cli_fail("open '%s'", name);
		cli_close(cp, 0);
		return -1;
	}
	return 0;
}

/* ---- create ---- */

static int do_create(int argc, char **argv)
{
	int c, sparse = 0, parents = 0;
	uint64_t volsize = 0, bs = 16384;
	char *props[64];
	int np = 0, is_vol = 0, have_b = 0;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "sV:b:o:p", NULL, NULL)) != -1) {
		switch (c) {
		case 's': sparse = 1; break;
		case 'p': parents = 1; break;
		case 'V':
			if (parse_size(opt_arg, &volsize) < 0) {
				fprintf(cli_err, "bad volume size '%s': %s\n", opt_arg, terr_msg());
				return 1;
			}
			is_vol = 1;
			break;
		case 'b':
			if (parse_size(opt_arg, &bs) < 0) {
				fprintf(cli_err, "bad volume block size '%s': %s\n", opt_arg, terr_msg());
				return 1;
			}
			have_b = 1;
			break;
		case 'o':
			if (!strchr(opt_arg, '=')) {
				fprintf(cli_err, "missing '=' for property=value argument\n");
				return 2;
			}
			if (np < 64)
				props[np++] = opt_arg;
			break;
		default: return usage_err(NULL);
		}
	}
	if (argc - opt_ind != 1)
		return usage_err(argc - opt_ind < 1 ? "missing filesystem argument" : "too many arguments");
	const char *name = argv[opt_ind];
	if (is_vol && volsize == 0) {
		fprintf(cli_err, "cannot create '%s': volume size cannot be zero\n", name);
		return 1;
	}
	if (!is_vol && sparse)
		return usage_err("'-s' can only be used when creating a volume");
	if (!is_vol && have_b)
		return usage_err("'-b' can only be used when creating a volume");
	for (int i = 0; i < np; i++) {
		char pn[PROP_NAME_MAX];
		const char *eq = strchr(props[i], '=');
		snprintf(pn, sizeof(pn), "%.*s", (int)(eq - props[i]), props[i]);
		if (!strcmp(pn, "volblocksize")) {
			if (parse_size(eq + 1, &bs) < 0)
				return cli_fail("create '%s'", name);
			props[i--] = props[--np];
			continue;
		}
		if (dsl_prop_validate(pn, eq + 1, is_vol ? DS_VOLUME : DS_FILESYSTEM) < 0)
			return cli_fail("create '%s'", name);
	}
	if (name_check(name, NAME_DATASET) < 0)
		return cli_fail("create '%s'", name);
	cli_pool_t cp;
	if (cli_open_for(name, &cp) < 0) {
		int plen = (int)strcspn(name, "/");
		if (terr_code() != ENOENT)
			return cli_fail("create '%s'", name);
		if (is_vol) /* zfs opens the pool to size the refreservation */
			fprintf(cli_err, "cannot open '%.*s': no such pool\n", plen, name);
		else
			fprintf(cli_err, "cannot create '%s': no such pool '%.*s'\n", name, plen, name);
		return 1;
	}
	int rc = 0;
	if (parents) { /* -p: missing parents become filesystems; an existing dataset is fine */
		if (dsl_lookup(cp.dsl, name)) {
			cli_close(&cp, 0);
			return 0;
		}
		char prefix[DS_NAME_MAX];
		for (const char *sl = strchr(name, '/'); rc == 0 && sl && (sl = strchr(sl + 1, '/'));) {
			snprintf(prefix, sizeof(prefix), "%.*s", (int)(sl - name), name);
			if (!dsl_lookup(cp.dsl, prefix))
				rc = dsl_create(cp.dsl, prefix, 0, 16384, 0, NULL, 0);
		}
	}
	if (rc == 0)
		rc = dsl_create(cp.dsl, name, is_vol ? volsize : 0, bs, sparse, props, np);
	return cli_finish(&cp, rc, "create '%s'", name);
}

/* ---- iteration helpers ---- */

enum { T_FS = 1, T_VOL = 2, T_SNAP = 4, T_BOOK = 8 };

static int type_bit(const dsl_ds_t *ds)
{
	return ds->type == DS_VOLUME ? T_VOL : ds->type == DS_SNAPSHOT ? T_SNAP : ds->type == DS_BOOKMARK ? T_BOOK : T_FS;
}

typedef struct dslist {
	dsl_ds_t **v;
	dsl_t **d;
	size_t n, cap;
} dslist_t;

static void dl_push(dslist_t *l, dsl_t *d, dsl_ds_t *ds)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		l->d = realloc(l->d, l->cap * sizeof(*l->d));
	}
	l->v[l->n] = ds;
	l->d[l->n++] = d;
}

/* Depth-first: the dataset, its snapshots (by txg), then its children (by name). */
static void visit(dslist_t *l, dsl_t *d, dsl_ds_t *ds, int types, int depth)
{
	if (strchr(ds->name, '%'))
		return; /* the hidden partial state of a receive */
	if (types & type_bit(ds))
		dl_push(l, d, ds);
	if (!dsl_is_head(ds) || depth == 0)
		return;
	dsl_ds_t **v;
	size_t n;
	if (types & T_SNAP) {
		n = dsl_snapshots(d, ds, &v);
		for (size_t i = 0; i < n; i++)
			dl_push(l, d, v[i]);
		free(v);
	}
	if (types & T_BOOK) {
		n = dsl_bookmarks(d, ds, &v);
		for (size_t i = 0; i < n; i++)
			dl_push(l, d, v[i]);
		free(v);
	}
	n = dsl_children(d, ds, &v);
	for (size_t i = 0; i < n; i++)
		visit(l, d, v[i], types, depth - 1);
	free(v);
}

static int parse_types(const char *s, int *types)
{
	char *c = strdup(s), *save = NULL;
	*types = 0;
	for (char *t = strtok_r(c, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "filesystem"))
			*types |= T_FS;
		else if (!strcmp(t, "volume"))
			*types |= T_VOL;
		else if (!strcmp(t, "snapshot") || !strcmp(t, "snap"))
			*types |= T_SNAP;
		else if (!strcmp(t, "bookmark"))
			*types |= T_BOOK;
		else if (!strcmp(t, "all"))
			*types |= T_FS | T_VOL | T_SNAP | T_BOOK;
		else {
			fprintf(cli_err, "invalid type '%s'\n", t);
			free(c);
			return -1;
		}
	}
	free(c);
	return 0;
}

typedef struct openset {
	cli_pool_t cp[64];
	char names[64][POOL_NAME_MAX];
	int n;
} openset_t;

static dsl_t *open_pool_of(openset_t *os, const char *dsname)
{
	size_t k = strcspn(dsname, "/@#");
	for (int i = 0; i < os->n; i++)
		if (strlen(os->names[i]) == k && !strncmp(os->names[i], dsname, k))
			return os->cp[i].dsl;
	if (os->n == 64 || cli_open_for_ro(dsname, &os->cp[os->n]) < 0)
		return NULL;
	snprintf(os->names[os->n], POOL_NAME_MAX, "%.*s", (int)k, dsname);
	return os->cp[os->n++].dsl;
}

static void close_all(openset_t *os)
{
	for (int i = 0; i < os->n; i++)
		cli_close(&os->cp[i], 0);
}

/* Collect datasets named on the command line (or all pools), recursively as asked. */
static int gather(openset_t *os, int argc, char **argv, int types, int recurse, int depth, dslist_t *l)
{
	int ret = 0;
	if (argc == 0) {
		char **names;
		int n;
		if (cli_known_names(&names, &n) < 0)
			return cli_fail("open pools");
		for (int i = 0; i < n; i++) {
			dsl_t *d = open_pool_of(os, names[i]);
			if (!d) {
				fprintf(cli_err, "cannot open '%s': %s\n", names[i], terr_msg());
				ret = 1;
			} else {
				visit(l, d, dsl_root(d), types, recurse ? depth : 0 + (depth < 0 ? -1 : depth));
			}
			free(names[i]);
		}
		free(names);
		return ret;
	}
	for (int i = 0; i < argc; i++) {
		dsl_t *d = open_pool_of(os, argv[i]);
		dsl_ds_t *ds = d ? dsl_lookup(d, argv[i]) : NULL;
		if (!ds) {
			fprintf(cli_err, "cannot open '%s': %s\n", argv[i], terr_msg()[0] ? terr_msg() : "dataset does not exist");
			ret = 1;
			continue;
		}
		if (!recurse) {
			if (types & type_bit(ds)) {
				dl_push(l, d, ds);
			} else if (dsl_is_head(ds) && (types & (T_SNAP | T_BOOK))) {
				/* `zfs list -t snapshot DS`: the snapshots (bookmarks) of DS */
				visit(l, d, ds, types & (T_SNAP | T_BOOK), 1);
			} else {
				fprintf(cli_err, "cannot open '%s': operation not applicable to datasets of this type\n",
					argv[i]);
				ret = 1;
			}
			continue;
		}
		/* with -r/-d, the named dataset is listed whatever its type, as zfs does for snapshots */
		if (!dsl_is_head(ds))
			dl_push(l, d, ds);
		else
			visit(l, d, ds, types, depth);
	}
	return ret;
}

/* ---- JSON (-j, --json-int) in OpenZFS 2.3's layout ---- */

static const struct option json_opts[] = { { "json", no_argument, 0, 'j' },
					   { "json-int", no_argument, 0, 'J' },
					   { 0, 0, 0, 0 } };

static void json_source(json_t *j, const char *src)
{
	json_obj_open(j, "source");
	if (!strncmp(src, "inherited from ", 15)) {
		json_str(j, "type", "INHERITED");
		json_str(j, "data", src + 15);
	} else {
		json_str(j, "type", !strcmp(src, "local") ? "LOCAL" : !strcmp(src, "default") ? "DEFAULT"
								  : !strcmp(src, "received") ? "RECEIVED"
											     : "NONE");
		json_str(j, "data", "-");
	}
	json_obj_close(j);
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* One dataset object; props NULL-terminated ("name" is skipped: it is the key). */
static void json_dataset(json_t *j, dsl_t *d, dsl_ds_t *ds, const char *const *props, int np, int parsable, int asint,
			 int skip_na)
{
	char name[DS_NAME_MAX], pool[DS_NAME_MAX], head[DS_NAME_MAX];
	static const char *tn[] = { "", "FILESYSTEM", "VOLUME", "SNAPSHOT", "BOOKMARK" };
	dsl_fullname(d, ds, name, sizeof(name));
	dsl_fullname(d, dsl_root(d), pool, sizeof(pool));
	json_obj_open(j, name);
	json_str(j, "name", name);
	json_str(j, "type", tn[ds->type]);
	json_str(j, "pool", pool);
	if (!dsl_is_head(ds)) {
		dsl_fullname(d, dsl_by_id(d, ds->parent), head, sizeof(head));
		json_str(j, "dataset", head);
		json_str(j, ds->type == DS_SNAPSHOT ? "snapshot_name" : "bookmark_name", ds->name);
	}
	char txg[32];
	snprintf(txg, sizeof(txg), "%llu", (unsigned long long)ds->createtxg);
	if (asint)
		json_raw(j, "createtxg", txg);
	else
		json_str(j, "createtxg", txg);
	json_obj_open(j, "properties");
	for (int k = 0; k < np; k++) {
		if (!strcmp(props[k], "name"))
			continue;
		char val[1024], src[DS_NAME_MAX + 32];
		if (zprop_value(d, ds, props[k], parsable || asint, val, sizeof(val), src, sizeof(src)) < 0) {
			if (skip_na)
				continue;
			snprintf(val, sizeof(val), "-");
			snprintf(src, sizeof(src), "-");
		}
		json_obj_open(j, props[k]);
		if (asint && all_digits(val))
			json_raw(j, "value", val);
		else
			json_str(j, "value", val);
		json_source(j, src);
		json_obj_close(j);
	}
	json_obj_close(j);
	json_obj_close(j);
}

/* ---- list ---- */

struct sortkey {
	const char *prop;
	int desc;
};

/* OpenZFS's default order (zfs_iter.c zfs_compare): by dataset name (strcmp of the part before
 * '@'), a dataset before its snapshots, snapshots by creation txg. */
static int name_order(dsl_t *dl, dsl_ds_t *l, dsl_t *dr, dsl_ds_t *r)
{
	char ln[DS_NAME_MAX], rn[DS_NAME_MAX];
	dsl_fullname(dl, l, ln, sizeof(ln));
	dsl_fullname(dr, r, rn, sizeof(rn));
	char *la = strchr(ln, '@'), *ra = strchr(rn, '@');
	if (la)
		*la = 0;
	if (ra)
		*ra = 0;
	int c = strcmp(ln, rn);
	if (c || (!la && !ra))
		return c;
	if (!la)
		return -1;
	if (!ra)
		return 1;
	return l->createtxg < r->createtxg ? -1 : l->createtxg > r->createtxg;
}

struct sortrow {
	size_t idx;
	dsl_t *d;
	dsl_ds_t *ds;
	char vals[16][512];
	int numeric[16];
	uint64_t num[16];
};

struct sortkeys {
	struct sortkey *keys;
	int n;
};

static int row_cmp(const void *a, const void *b, void *arg)
{
	const struct sortrow *x = *(struct sortrow *const *)a, *y = *(struct sortrow *const *)b;
	const struct sortkeys *sk = arg;
	for (int k = 0; k < sk->n; k++) {
		int r;
		if (x->numeric[k] && y->numeric[k])
			r = x->num[k] < y->num[k] ? -1 : x->num[k] > y->num[k];
		else if (x->numeric[k] != y->numeric[k] && (!strcmp(x->vals[k], "-") || !strcmp(y->vals[k], "-")))
			return !strcmp(x->vals[k], "-") ? 1 : -1; /* not applicable: last, either direction */
		else if (x->numeric[k] != y->numeric[k])
			r = x->numeric[k] ? -1 : 1;
		else
			r = strcmp(x->vals[k], y->vals[k]);
		if (r)
			return sk->keys[k].desc ? -r : r;
	}
	return name_order(x->d, x->ds, y->d, y->ds);
}

/* Reorder l by the -s/-S keys, ties (and everything when there are none) in name order. */
static void sort_list(dslist_t *l, struct sortkey *keys, int nkeys)
{
	struct sortrow **rows = calloc(l->n ? l->n : 1, sizeof(*rows));
	for (size_t i = 0; i < l->n; i++) {
		rows[i] = calloc(1, sizeof(**rows));
		rows[i]->idx = i;
		rows[i]->d = l->d[i];
		rows[i]->ds = l->v[i];
		for (int k = 0; k < nkeys; k++) {
			char src[DS_NAME_MAX + 32];
			if (zprop_value(l->d[i], l->v[i], keys[k].prop, 1, rows[i]->vals[k], sizeof(rows[i]->vals[k]), src,
					sizeof(src)) < 0)
				snprintf(rows[i]->vals[k], sizeof(rows[i]->vals[k]), "-");
			char *end;
			rows[i]->num[k] = strtoull(rows[i]->vals[k], &end, 10);
			rows[i]->numeric[k] = rows[i]->vals[k][0] >= '0' && rows[i]->vals[k][0] <= '9' && !*end;
		}
	}
	struct sortkeys sk = { keys, nkeys };
	qsort_r(rows, l->n, sizeof(*rows), row_cmp, &sk);
	dsl_ds_t **v = malloc((l->n ? l->n : 1) * sizeof(*v));
	dsl_t **d = malloc((l->n ? l->n : 1) * sizeof(*d));
	for (size_t i = 0; i < l->n; i++) {
		v[i] = l->v[rows[i]->idx];
		d[i] = l->d[rows[i]->idx];
		free(rows[i]);
	}
	free(rows);
	free(l->v);
	free(l->d);
	l->v = v;
	l->d = d;
}

static int do_list(int argc, char **argv)
{
	int c, scripted = 0, parsable = 0, recurse = 0, depth = -1, types = 0;
	struct sortkey sortk[16];
	int nsort = 0;
	char *ocopy = NULL, *cols[64];
	int ncols = 0;
	opt_ind = 1;
	int json = 0, json_int = 0;
	while ((c = opt_getopt_long(argc, argv, "rHpjd:o:t:s:S:", json_opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'J': json = json_int = 1; break;
		case 'r': recurse = 1; break;
		case 'H': scripted = 1; break;
		case 'p': parsable = 1; break;
		case 'd':
			recurse = 1;
			depth = atoi(opt_arg);
			break;
		case 'o': {
			free(ocopy);
			ocopy = strdup(opt_arg);
			ncols = 0;
			for (char *save = NULL, *t = strtok_r(ocopy, ",", &save); t && ncols < 60; t = strtok_r(NULL, ",", &save)) {
				if (!strcmp(t, "space")) {
					static const char *sp[] = { "name", "avail", "used", "usedsnap", "usedds", "usedrefreserv", "usedchild" };
					for (int k = 0; k < 7; k++)
						cols[ncols++] = (char *)sp[k];
				} else {
					cols[ncols++] = t;
				}
			}
			break;
		}
		case 't':
			if (parse_types(opt_arg, &types) < 0) {
				free(ocopy);
				return usage_err(NULL);
			}
			break;
		case 's':
		case 'S': {
			const char *cn = zprop_canon(opt_arg);
			if (!cn) {
				fprintf(cli_err, "invalid property '%s'\n", opt_arg);
				free(ocopy);
				return usage_err(NULL);
			}
			if (nsort < 16) {
				sortk[nsort].prop = cn;
				sortk[nsort++].desc = c == 'S';
			}
			break;
		}
		default: free(ocopy); return usage_err(NULL);
		}
	}
	if (!ncols) {
		static const char *def[] = { "name", "used", "avail", "refer", "mountpoint" };
		for (ncols = 0; ncols < 5; ncols++)
			cols[ncols] = (char *)def[ncols];
	}
	if (!types)
		types = (argc - opt_ind > 0 && !recurse) ? T_FS | T_VOL | T_SNAP : T_FS | T_VOL;
	const char *hdr[64];
	char hbuf[64][PROP_NAME_MAX];
	int right[64];
	for (int i = 0; i < ncols; i++) {
		const char *cn = zprop_canon(cols[i]);
		if (!cn) {
			fprintf(cli_err, "bad property list: invalid property '%s'\n", cols[i]);
			free(ocopy);
			return usage_err(NULL);
		}
		cols[i] = (char *)cn;
		hdr[i] = zprop_header(cn, hbuf[i], sizeof(hbuf[i]));
		right[i] = zprop_numeric(cn);
	}
	openset_t os = { .n = 0 };
	dslist_t l = { 0 };
	int ret = gather(&os, argc - opt_ind, argv + opt_ind, types, recurse, depth, &l);
	if (l.n)
		sort_list(&l, sortk, nsort);
	if (json) {
		json_t j;
		json_init(&j, cli_out);
		json_obj_open(&j, NULL);
		json_version(&j, "zfs list");
		json_obj_open(&j, "datasets");
		for (size_t i = 0; i < l.n; i++)
			json_dataset(&j, l.d[i], l.v[i], (const char *const *)cols, ncols, parsable, json_int, 0);
		json_obj_close(&j);
		json_obj_close(&j);
		free(l.v);
		free(l.d);
		close_all(&os);
		free(ocopy);
		return ret;
	}
	table_t t;
	table_init(&t, ncols, hdr, right);
	for (size_t i = 0; i < l.n; i++) {
		char vals[64][1024], src[64];
		const char *cells[64];
		for (int k = 0; k < ncols; k++) {
			if (zprop_value(l.d[i], l.v[i], cols[k], parsable, vals[k], sizeof(vals[k]), src, sizeof(src)) < 0)
				snprintf(vals[k], sizeof(vals[k]), "-");
			cells[k] = vals[k];
		}
		table_add(&t, cells);
	}
	if (l.n == 0 && argc - opt_ind == 0 && ret == 0)
		fprintf(cli_out, "no datasets available\n");
	else if (l.n)
		table_print(&t, cli_out, scripted, 1);
	table_free(&t);
	free(l.v);
	free(l.d);
	close_all(&os);
	free(ocopy);
	return ret;
}

/* ---- get ---- */

static int do_get(int argc, char **argv)
{
	int c, scripted = 0, parsable = 0, recurse = 0, depth = -1, types = T_FS | T_VOL | T_SNAP | T_BOOK;
	char *fields = NULL, *sources = NULL;
	opt_ind = 1;
	int json = 0, json_int = 0;
	while ((c = opt_getopt_long(argc, argv, "rHpjd:o:t:s:", json_opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'J': json = json_int = 1; break;
		case 'r': recurse = 1; break;
		case 'H': scripted = 1; break;
		case 'p': parsable = 1; break;
		case 'd':
			recurse = 1;
			depth = atoi(opt_arg);
			break;
		case 'o': fields = opt_arg; break;
		case 's': sources = opt_arg; break;
		case 't':
			if (parse_types(opt_arg, &types) < 0)
				return usage_err(NULL);
			break;
		default: return usage_err(NULL);
		}
	}
	if (argc - opt_ind < 1)
		return usage_err("missing property argument");
	char *plist = strdup(argv[opt_ind++]);
	const char *props[128];
	int np = 0, all = !strcmp(plist, "all");
	if (all) {
		for (; zprop_all[np]; np++)
			props[np] = zprop_all[np];
	} else {
		for (char *save = NULL, *tk = strtok_r(plist, ",", &save); tk && np < 128; tk = strtok_r(NULL, ",", &save)) {
			const char *cn = zprop_canon(tk);
			if (!cn) {
				fprintf(cli_err, "bad property list: invalid property '%s'\n", tk);
				free(plist);
				return usage_err(NULL);
			}
			props[np++] = cn;
		}
	}
	const char *fall[] = { "name", "property", "value", "received", "source" };
	const char *fl[5];
	int nf = 0;
	char *fcopy = fields ? strdup(fields) : NULL;
	if (fcopy && strcmp(fcopy, "all")) {
		for (char *save = NULL, *tk = strtok_r(fcopy, ",", &save); tk && nf < 5; tk = strtok_r(NULL, ",", &save)) {
			int okf = 0;
			for (int k = 0; k < 5; k++)
				if (!strcmp(tk, fall[k]))
					fl[nf++] = fall[k], okf = 1;
			if (!okf) {
				fprintf(cli_err, "invalid field '%s'\n", tk);
				free(plist);
				free(fcopy);
				return usage_err(NULL);
			}
		}
	} else {
		fl[nf++] = "name", fl[nf++] = "property", fl[nf++] = "value", fl[nf++] = "source";
	}
	const char *hdr[5];
	int right[5] = { 0 };
	for (int i = 0; i < nf; i++)
		hdr[i] = !strcmp(fl[i], "name") ? "NAME" : !strcmp(fl[i], "property") ? "PROPERTY"
						     : !strcmp(fl[i], "value")  ? "VALUE"
						     : !strcmp(fl[i], "received") ? "RECEIVED"
										  : "SOURCE";
	openset_t os = { .n = 0 };
	dslist_t l = { 0 };
	int ret = gather(&os, argc - opt_ind, argv + opt_ind, types, recurse || argc - opt_ind == 0,
			 argc - opt_ind == 0 && !recurse ? -1 : depth, &l);
	if (l.n)
		sort_list(&l, NULL, 0);
	table_t t;
	table_init(&t, nf, hdr, right);
	json_t j;
	if (json) {
		json_init(&j, cli_out);
		json_obj_open(&j, NULL);
		json_version(&j, "zfs get");
		json_obj_open(&j, "datasets");
	}
	for (size_t i = 0; i < l.n; i++) {
		if (!(types & type_bit(l.v[i])))
			continue;
		if (json) {
			json_dataset(&j, l.d[i], l.v[i], props, np, parsable, json_int, all);
			continue;
		}
		int nprint = np;
		const char *pp[256];
		for (int k = 0; k < np; k++)
			pp[k] = props[k];
		if (all) /* user properties set on the dataset come after the native ones */
			for (size_t k = 0; k < l.v[i]->nprops && nprint < 256; k++)
				if (strchr(l.v[i]->props[k].name, ':'))
					pp[nprint++] = l.v[i]->props[k].name;
		for (int k = 0; k < nprint; k++) {
			char val[1024], src[DS_NAME_MAX + 32], name[DS_NAME_MAX], recv[1024] = "-";
			if (zprop_value(l.d[i], l.v[i], pp[k], parsable, val, sizeof(val), src, sizeof(src)) < 0) {
				if (all)
					continue;
				snprintf(val, sizeof(val), "-");
				snprintf(src, sizeof(src), "-");
			}
			if (sources) {
				char sc[DS_NAME_MAX + 32];
				snprintf(sc, sizeof(sc), "%s", !strncmp(src, "inherited", 9) ? "inherited" : !strcmp(src, "-") ? "none" : src);
				char *sl = strdup(sources), *save = NULL;
				int match = 0;
				for (char *tk = strtok_r(sl, ",", &save); tk; tk = strtok_r(NULL, ",", &save))
					match |= !strcmp(tk, sc) || (!strcmp(tk, "temporary") && 0);
				free(sl);
				if (!match)
					continue;
			}
			for (size_t q = 0; q < l.v[i]->nprops; q++)
				if (!strcmp(l.v[i]->props[q].name, pp[k]) && l.v[i]->props[q].source == PROP_RECEIVED) {
					const char *rv = l.v[i]->props[q].value;
					char *end;
					unsigned long long num = strtoull(rv, &end, 10);
					if (zprop_numeric(pp[k]) && *rv && !*end && !parsable)
						nicebytes(num, recv, sizeof(recv)); /* sizes print as sizes */
					else
						snprintf(recv, sizeof(recv), "%s", rv);
				}
			dsl_fullname(l.d[i], l.v[i], name, sizeof(name));
			const char *cells[5];
			for (int f = 0; f < nf; f++)
				cells[f] = !strcmp(fl[f], "name") ? name : !strcmp(fl[f], "property") ? pp[k]
								 : !strcmp(fl[f], "value")	       ? val
								 : !strcmp(fl[f], "received")	       ? recv
												       : src;
			table_add(&t, cells);
		}
	}
	if (json) {
		json_obj_close(&j);
		json_obj_close(&j);
	} else if (t.nrows) {
		table_print(&t, cli_out, scripted, 1);
	}
	table_free(&t);
	free(l.v);
	free(l.d);
	close_all(&os);
	free(plist);
	free(fcopy);
	return ret;
}

/* ---- set / inherit ---- */

static int do_set(int argc, char **argv)
{
	if (argc < 3)
		return usage_err(argc < 2 ? "missing property=value argument(s)" : "missing dataset name(s)");
	const char *name = argv[argc - 1];
	cli_pool_t cp;
	dsl_ds_t *ds;
	if (open_ds(name, &cp, &ds) < 0)
		return 1;
	int rc = 0;
	for (int i = 1; rc == 0 && i < argc - 1; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq) {
			cli_close(&cp, 0);
			fprintf(cli_err, "missing '=' for property=value argument\n");
			return usage_err(NULL);
		}
		*eq = 0;
		const char *cn = zprop_canon(argv[i]);
		if (!cn) {
			rc = terr(EINVAL, "invalid property '%s'", argv[i]);
			break;
		}
		if (!strcmp(cn, "volsize")) {
			uint64_t v;
			rc = parse_size(eq + 1, &v);
			if (rc == 0)
				rc = dsl_set_volsize(cp.dsl, ds, v);
		} else {
			rc = dsl_prop_set(cp.dsl, ds, cn, eq + 1, PROP_LOCAL);
		}
	}
	return cli_finish(&cp, rc, "set property for '%s'", name);
}

static int do_inherit(int argc, char **argv)
{
	int c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "rS", NULL, NULL)) != -1)
		return usage_err("-r/-S: not supported yet");
	if (argc - opt_ind < 2)
		return usage_err("missing property or dataset argument");
	const char *cn = zprop_canon(argv[opt_ind]);
	int ret = 0;
	for (int i = opt_ind + 1; i < argc; i++) {
		cli_pool_t cp;
		if (cli_open_for(argv[i], &cp) < 0) {
			ret = cli_fail("open '%s'", argv[i]);
			continue;
		}
		dsl_ds_t *ds = dsl_lookup(cp.dsl, argv[i]);
		int rc = !ds ? -ENOENT : !cn ? terr(EINVAL, "invalid property '%s'", argv[opt_ind])
				      : dsl_prop_inherit(cp.dsl, ds, cn);
		if (rc < 0 || cli_close(&cp, 1) < 0) {
			cli_close(&cp, 0);
			ret = cli_fail("inherit %s for '%s'", argv[opt_ind], argv[i]);
		}
	}
	return ret;
}

/* ---- snapshot / rollback / clone ---- */

static void add_recursive(dsl_t *d, dsl_ds_t *ds, const char *snap, char ***names, int *n)
{
	char full[DS_NAME_MAX * 2];
	dsl_fullname(d, ds, full, sizeof(full));
	size_t len = strlen(full);
	snprintf(full + len, sizeof(full) - len, "@%s", snap);
	*names = realloc(*names, (size_t)(*n + 1) * sizeof(char *));
	(*names)[(*n)++] = strdup(full);
	dsl_ds_t **v;
	size_t nc = dsl_children(d, ds, &v);
	for (size_t i = 0; i < nc; i++)
		add_recursive(d, v[i], snap, names, n);
	free(v);
}

static int do_snapshot(int argc, char **argv)
{
	int c, recurse = 0;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "ro:", NULL, NULL)) != -1) {
		if (c == 'r')
			recurse = 1;
		else if (c == 'o')
			return usage_err("-o: snapshot properties are not supported yet");
		else
			return usage_err(NULL);
	}
	if (argc - opt_ind < 1)
		return usage_err("missing snapshot argument");
	for (int i = opt_ind; i < argc; i++) {
		if (!strchr(argv[i], '@')) {
			fprintf(cli_err, "cannot create snapshot '%s': missing '@' delimiter in snapshot name\n", argv[i]);
			return usage_err(NULL);
		}
		if (name_check(argv[i], NAME_SNAPSHOT) < 0)
			return cli_fail("create snapshot '%s'", argv[i]);
		size_t k = strcspn(argv[i], "/@");
		if (strncmp(argv[i], argv[opt_ind], k) || argv[opt_ind][k] != argv[i][k]) {
			fprintf(cli_err, "cannot create snapshots : snapshots in different pools are not supported yet\n");
			return 1;
		}
	}
	cli_pool_t cp;
	if (cli_open_for(argv[opt_ind], &cp) < 0)
		return cli_fail("open '%.*s'", (int)strcspn(argv[opt_ind], "@"), argv[opt_ind]);
	char **names = NULL;
	int n = 0, rc = 0;
	for (int i = opt_ind; i < argc && rc == 0; i++) {
		char dsn[DS_NAME_MAX];
		snprintf(dsn, sizeof(dsn), "%.*s", (int)strcspn(argv[i], "@"), argv[i]);
		dsl_ds_t *ds = dsl_lookup(cp.dsl, dsn);
		if (!ds) {
			fprintf(cli_err, "cannot open '%s': dataset does not exist\nusage:\n\tsnapshot [-r] "
					"<filesystem|volume>@<snap> ...\n", dsn);
			rc = 2;
			break;
		}
		if (recurse)
			add_recursive(cp.dsl, ds, strchr(argv[i], '@') + 1, &names, &n);
		else {
			names = realloc(names, (size_t)(n + 1) * sizeof(char *));
			names[n++] = strdup(argv[i]);
		}
	}
	int ret = rc;
	if (rc == 0) /* dsl_snapshot commits: the history line goes with it */
		rc = dsl_history_add(cp.dsl, cli_history_line);
	int failed = -1;
	if (rc == 0 && dsl_snapshot(cp.dsl, names, n, &failed) < 0) {
		ret = cli_fail("create snapshot '%s'", names[failed >= 0 ? failed : 0]);
		if (n > 1)
			fprintf(cli_err, "no snapshots were created\n");
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	cli_close(&cp, 0);
	return ret;
}

static int do_rollback(int argc, char **argv)
{
	int c, recurse = 0;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "rRf", NULL, NULL)) != -1) {
		if (c == 'r' || c == 'R')
			recurse = 1;
		else if (c != 'f')
			return usage_err(NULL);
	}
	if (argc - opt_ind != 1)
		return usage_err(argc - opt_ind < 1 ? "missing dataset argument" : "too many arguments");
	const char *name = argv[opt_ind];
	if (!strchr(name, '@')) {
		fprintf(cli_err, "cannot open '%s': missing '@' delimiter in snapshot name\n", name);
		return 1;
	}
	cli_pool_t cp;
	dsl_ds_t *s;
	if (open_ds(name, &cp, &s) < 0)
		return 1;
	char head[DS_NAME_MAX * 2]; /* iSCSI LU: busy (cli_lu_busy, comstar.c) */
	snprintf(head, sizeof(head), "%.*s", (int)strcspn(name, "@"), name);
	if (cli_lu_busy(head, 0) < 0) {
		cli_close(&cp, 0);
		return cli_fail("rollback to '%s'", name);
	}
	dsl_ds_t *h = dsl_by_id(cp.dsl, s->parent), **snaps;
	size_t n = dsl_snapshots(cp.dsl, h, &snaps), k;
	for (k = 0; k < n && snaps[k] != s; k++)
		;
	int rc = 0;
	if (k + 1 < n && !recurse) {
		fprintf(cli_err, "cannot rollback to '%s': more recent snapshots or bookmarks exist\n"
				"use '-r' to force deletion of the following snapshots and bookmarks:\n", name);
		for (size_t i = k + 1; i < n; i++) {
			char fn[DS_NAME_MAX];
			dsl_fullname(cp.dsl, snaps[i], fn, sizeof(fn));
			fprintf(cli_err, "%s\n", fn);
		}
		free(snaps);
		cli_close(&cp, 0);
		return 1;
	}
	for (size_t i = n; rc == 0 && i-- > k + 1;)
		rc = dsl_destroy(cp.dsl, snaps[i]);
	free(snaps);
	if (rc == 0)
		rc = dsl_rollback(cp.dsl, s);
	return cli_finish(&cp, rc, "rollback to '%s'", name);
}

static int do_clone(int argc, char **argv)
{
	int c;
	char *props[64];
	int np = 0;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "po:", NULL, NULL)) != -1) {
		if (c == 'o' && np < 64)
			props[np++] = opt_arg;
		else if (c != 'p')
			return usage_err(NULL);
	}
	if (argc - opt_ind != 2)
		return usage_err(argc - opt_ind < 2 ? "missing source dataset or target dataset argument" : "too many arguments");
	const char *src = argv[opt_ind], *dst = argv[opt_ind + 1];
	if (!strchr(src, '@')) {
		fprintf(cli_err, "cannot open '%s': missing '@' delimiter in snapshot name\n", src);
		return 1;
	}
	if (strcspn(src, "/@") != strcspn(dst, "/@") || strncmp(src, dst, strcspn(src, "/@"))) {
		fprintf(cli_err, "cannot create '%s': source and target pools differ\n", dst);
		return 1;
	}
	cli_pool_t cp;
	if (cli_open_for(src, &cp) < 0)
		return cli_fail("open '%s'", src);
	dsl_ds_t *s = dsl_lookup(cp.dsl, src);
	int rc = s ? (s->type == DS_SNAPSHOT ? dsl_clone(cp.dsl, s, dst, props, np) : terr(EINVAL, "not a snapshot")) : -ENOENT;
	if (rc < 0) {
		cli_close(&cp, 0);
		return s ? cli_fail("create '%s'", dst) : cli_fail("open '%s'", src);
	}
	if (cli_close(&cp, 1) < 0)
		return cli_fail("create '%s'", dst);
	return 0;
}

static int do_promote(int argc, char **argv)
{
	if (argc != 2)
		return usage_err(argc < 2 ? "missing clone filesystem argument" : "too many arguments");
	const char *name = argv[1];
	cli_pool_t cp;
	if (cli_open_for(name, &cp) < 0)
		return cli_fail("open '%s'", name);
	dsl_ds_t *ds = dsl_lookup(cp.dsl, name);
	if (!ds || dsl_promote(cp.dsl, ds) < 0) {
		cli_close(&cp, 0);
		return cli_fail("promote '%s'", name);
	}
	if (cli_close(&cp, 1) < 0)
		return cli_fail("promote '%s'", name);
	return 0;
}

static int do_bookmark(int argc, char **argv)
{
	if (argc != 3)
		return usage_err(argc < 3 ? "missing snapshot or bookmark argument" : "too many arguments");
	const char *src = argv[1], *book = argv[2];
	char full[DS_NAME_MAX * 2], sfull[DS_NAME_MAX * 2];
	if (book[0] == '#' && src[0] != '@' && src[0] != '#') { /* short form: the source's dataset */
		snprintf(full, sizeof(full), "%.*s%s", (int)strcspn(src, "@#"), src, book);
		book = full;
	}
	if (!strchr(book, '#')) {
		fprintf(cli_err, "invalid bookmark name '%s': must contain a '#'\n", book);
		return usage_err(NULL);
	}
	if (src[0] == '@' || src[0] == '#') { /* short source: the bookmark's dataset */
		snprintf(sfull, sizeof(sfull), "%.*s%s", (int)strcspn(book, "#"), book, src);
		src = sfull;
	}
	cli_pool_t cp;
	if (cli_open_for(src, &cp) < 0)
		return cli_fail("bookmark '%s'", src);
	dsl_ds_t *s = dsl_lookup(cp.dsl, src);
	if (!s) {
		cli_close(&cp, 0);
		fprintf(cli_err, "cannot open '%s': dataset does not exist\n", src);
		return usage_err(NULL);
	}
	if (dsl_bookmark(cp.dsl, s, book) < 0) {
		cli_close(&cp, 0);
		return cli_fail("create bookmark '%s'", book);
	}
	if (cli_close(&cp, 1) < 0)
		return cli_fail("create bookmark '%s'", book);
	return 0;
}

/* hold / release: zfs hold [-r] tag snap...; zfs release [-r] tag snap... */
static int do_hold_release(int argc, char **argv, int hold)
{
	int c, recurse = 0;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "r", NULL, NULL)) != -1) {
		if (c == 'r')
			recurse = 1;
		else
			return usage_err(NULL);
	}
	if (argc - opt_ind < 2)
		return usage_err("missing tag or snapshot argument");
	const char *tag = argv[opt_ind];
	int ret = 0;
	for (int i = opt_ind + 1; i < argc; i++) {
		cli_pool_t cp;
		if (cli_open_for(argv[i], &cp) < 0) {
			ret = cli_fail("open '%s'", argv[i]);
			continue;
		}
		dsl_ds_t *s = dsl_lookup(cp.dsl, argv[i]);
		int rc = s ? 0 : -ENOENT;
		if (s && s->type != DS_SNAPSHOT) {
			cli_close(&cp, 0);
			fprintf(cli_err, "'%s' is not a snapshot\n", argv[i]);
			ret = 1;
			continue;
		}
		/* -r: the snapshot of the same name in every descendant */
		dslist_t l = { 0 };
		if (rc == 0 && recurse) {
			visit(&l, cp.dsl, dsl_by_id(cp.dsl, s->parent), T_FS | T_VOL | T_SNAP, -1);
		} else if (rc == 0) {
			dl_push(&l, cp.dsl, s);
		}
		for (size_t k = 0; k < l.n && rc == 0; k++) {
			if (l.v[k]->type != DS_SNAPSHOT || strcmp(l.v[k]->name, s->name))
				continue;
			rc = hold ? dsl_hold(cp.dsl, l.v[k], tag) : dsl_release(cp.dsl, l.v[k], tag);
		}
		free(l.v);
		free(l.d);
		if (rc < 0 || cli_close(&cp, 1) < 0) {
			cli_close(&cp, 0);
			ret = cli_fail("%s '%s'", hold ? "hold snapshot" : "release hold from snapshot", argv[i]);
		}
	}
	return ret;
}

static int do_holds(int argc, char **argv)
{
	int c, scripted = 0, recurse = 0, parsable = 0;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "rHp", NULL, NULL)) != -1) {
		if (c == 'r')
			recurse = 1;
		else if (c == 'H')
			scripted = 1;
		else if (c == 'p')
			parsable = 1;
		else
			return usage_err(NULL);
	}
	if (argc - opt_ind < 1)
		return usage_err("missing snapshot argument");
	openset_t os = { .n = 0 };
	dslist_t l = { 0 };
	int ret = 0;
	for (int i = opt_ind; i < argc; i++) {
		dsl_t *d = open_pool_of(&os, argv[i]);
		dsl_ds_t *s = d ? dsl_lookup(d, argv[i]) : NULL;
		if (!s) {
			fprintf(cli_err, "cannot open '%s': dataset does not exist\n", argv[i]);
			ret = 1;
			continue;
		}
		if (s->type != DS_SNAPSHOT) {
			fprintf(cli_err, "'%s' is not a snapshot\n", argv[i]);
			ret = 1;
			continue;
		}
		if (recurse) {
			dslist_t all = { 0 };
			visit(&all, d, dsl_by_id(d, s->parent), T_FS | T_VOL | T_SNAP, -1);
			for (size_t k = 0; k < all.n; k++)
				if (all.v[k]->type == DS_SNAPSHOT && !strcmp(all.v[k]->name, s->name))
					dl_push(&l, d, all.v[k]);
			free(all.v);
			free(all.d);
		} else {
			dl_push(&l, d, s);
		}
	}
	const char *hdr[] = { "NAME", "TAG", "TIMESTAMP" };
	table_t t;
	table_init(&t, 3, hdr, NULL);
	for (size_t i = 0; i < l.n; i++)
		for (size_t h = 0; h < l.v[i]->nholds; h++) {
			char name[DS_NAME_MAX], ts[64];
			dsl_fullname(l.d[i], l.v[i], name, sizeof(name));
			time_t tt = (time_t)l.v[i]->holds[h].time;
			struct tm tm;
			localtime_r(&tt, &tm);
			if (parsable)
				snprintf(ts, sizeof(ts), "%llu", (unsigned long long)l.v[i]->holds[h].time);
			else
				strftime(ts, sizeof(ts), "%a %b %e %H:%M %Y", &tm);
			const char *cells[] = { name, l.v[i]->holds[h].tag, ts };
			table_add(&t, cells);
		}
	if (t.nrows || (!scripted && l.n))
		table_print(&t, cli_out, scripted, 1);
	table_free(&t);
	free(l.v);
	free(l.d);
	close_all(&os);
	return ret;
}

static int do_rename(int argc, char **argv)
{
	int c, recurse = 0, parents = 0;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "rpfu", NULL, NULL)) != -1) {
		if (c == 'r')
			recurse = 1;
		else if (c == 'p')
			parents = 1;
		else if (c != 'f' && c != 'u')
			return usage_err(NULL);
	}
	if (argc - opt_ind != 2)
		return usage_err(argc - opt_ind < 2 ? "missing source or target dataset argument" : "too many arguments");
	const char *from = argv[opt_ind];
	char to[DS_NAME_MAX * 2];
	snprintf(to, sizeof(to), "%s", argv[opt_ind + 1]);
	if (strchr(from, '@') && to[0] == '@') /* short form: rename ds@a @b */
		snprintf(to, sizeof(to), "%.*s%s", (int)strcspn(from, "@"), from, argv[opt_ind + 1]);
	else if (strchr(from, '@') && !strpbrk(to, "@/")) /* short form: rename ds@a b */
		snprintf(to, sizeof(to), "%.*s@%s", (int)strcspn(from, "@"), from, argv[opt_ind + 1]);
	if (recurse && !strchr(from, '@')) {
		fprintf(cli_err, "source dataset for recursive rename must be a snapshot\n");
		return usage_err(NULL);
	}
	if (!strcmp(from, to))
		return 0; /* as zfs: renaming to the same name succeeds */
	if (strcspn(from, "/@#") != strcspn(to, "/@#") || strncmp(from, to, strcspn(from, "/@#"))) {
		fprintf(cli_err, "cannot rename to '%s': datasets must be within same pool\n", to);
		return 1;
	}
	cli_pool_t cp;
	dsl_ds_t *ds;
	if (open_ds(from, &cp, &ds) < 0)
		return 1;
	if (cli_lu_busy(from, 1) < 0) { /* an iSCSI LU, or below/of one (comstar.c) */
		cli_close(&cp, 0);
		return cli_fail("rename '%s'", from);
	}
	int rc = 0;
	if (rc == 0 && parents && dsl_is_head(ds)) { /* -p: create missing parents */
		char path[DS_NAME_MAX * 2];
		snprintf(path, sizeof(path), "%s", to);
		for (char *sl = strchr(path + strcspn(path, "/") + 1, '/'); rc == 0 && sl; sl = strchr(sl + 1, '/')) {
			*sl = 0;
			if (!dsl_lookup(cp.dsl, path))
				rc = dsl_create(cp.dsl, path, 0, 0, 0, NULL, 0);
			*sl = '/';
		}
		terr_clear();
	}
	if (rc == 0 && recurse) {
		const char *newsnap = strchr(to, '@') + 1;
		dslist_t l = { 0 };
		visit(&l, cp.dsl, dsl_by_id(cp.dsl, ds->parent), T_SNAP | T_FS | T_VOL, -1);
		for (size_t k = 0; k < l.n && rc == 0; k++) /* all or nothing: check first */
			if (l.v[k]->type == DS_SNAPSHOT && !strcmp(l.v[k]->name, newsnap)) {
				cli_close(&cp, 0);
				fprintf(cli_err, "cannot rename '%s': a child dataset already has a snapshot with the new name\n",
					from);
				free(l.v);
				free(l.d);
				return 1;
			}
		for (size_t k = 0; k < l.n && rc == 0; k++) {
			if (l.v[k]->type != DS_SNAPSHOT || strcmp(l.v[k]->name, ds->name) || l.v[k] == ds)
				continue;
			char nn[DS_NAME_MAX * 2];
			dsl_fullname(cp.dsl, dsl_by_id(cp.dsl, l.v[k]->parent), nn, sizeof(nn));
			size_t len = strlen(nn);
			snprintf(nn + len, sizeof(nn) - len, "@%s", newsnap);
			rc = dsl_rename(cp.dsl, l.v[k], nn);
		}
		free(l.v);
		free(l.d);
	}
	if (rc == 0)
		rc = dsl_rename(cp.dsl, ds, to);
	if (rc < 0) { /* as zfs_rename: checks name the target, the kernel's EEXIST the source */
		cli_close(&cp, 0);
		return rc == -EEXIST ? cli_fail("rename '%s'", from) : cli_fail("rename to '%s'", to);
	}
	if (cli_close(&cp, 1) < 0)
		return cli_fail("rename '%s'", from);
	return 0;
}

/* ---- destroy ---- */

static void list_dependents(dsl_t *d, dsl_ds_t *ds, FILE *f)
{
	dsl_ds_t **v;
	size_t n = dsl_children(d, ds, &v);
	for (size_t i = 0; i < n; i++) {
		char fn[DS_NAME_MAX];
		dsl_fullname(d, v[i], fn, sizeof(fn));
		fprintf(f, "%s\n", fn);
		list_dependents(d, v[i], f);
	}
	free(v);
	n = dsl_snapshots(d, ds, &v);
	for (size_t i = 0; i < n; i++) {
		char fn[DS_NAME_MAX];
		dsl_fullname(d, v[i], fn, sizeof(fn));
		fprintf(f, "%s\n", fn);
	}
	free(v);
}

/* "cannot destroy X: <what> has dependent clones" listing the clones of snap. */
static int clone_message(dsl_t *d, dsl_ds_t *snap, const char *fn, const char *what)
{
	fprintf(cli_err, "cannot destroy '%s': %s has dependent clones\n"
			"use '-R' to destroy the following datasets:\n", fn, what);
	for (size_t i = 0; i < d->nds; i++)
		if (d->ds[i]->origin == snap->id) {
			char cn[DS_NAME_MAX];
			dsl_fullname(d, d->ds[i], cn, sizeof(cn));
			fprintf(cli_err, "%s\n", cn);
		}
	return 1;
}

/* Destroy ds@spec where spec is "a", "a%b" or "a,b%c,...". */
static int destroy_snaps(dsl_t *d, dsl_ds_t *head, const char *spec, const char *dsname, int *any)
{
	dsl_ds_t **snaps;
	size_t n = dsl_snapshots(d, head, &snaps);
	char *copy = strdup(spec), *save = NULL;
	int ret = 0;
	for (char *tk = strtok_r(copy, ",", &save); tk && ret == 0; tk = strtok_r(NULL, ",", &save)) {
		char *pct = strchr(tk, '%');
		size_t lo = 0, hi = 0;
		int found_lo = 0, found_hi = 0;
		if (pct) {
			*pct = 0;
			const char *a = tk, *b = pct + 1;
			if (!*a)
				found_lo = 1, lo = 0;
			if (!*b)
				found_hi = 1, hi = n ? n - 1 : 0;
			for (size_t i = 0; i < n; i++) {
				if (*a && snaps[i] && !strcmp(snaps[i]->name, a))
					lo = i, found_lo = 1;
				if (*b && snaps[i] && !strcmp(snaps[i]->name, b))
					hi = i, found_hi = 1;
			}
			if (!found_lo || !found_hi || n == 0) {
				fprintf(cli_err, "cannot destroy '%s@%s%%%s': snapshot does not exist\n", dsname, a, b);
				ret = 1;
				break;
			}
		} else {
			for (size_t i = 0; i < n; i++)
				if (snaps[i] && !strcmp(snaps[i]->name, tk))
					lo = hi = i, found_lo = 1;
			if (!found_lo) {
				/* zfs quietly skips missing snapshots in a list, but reports a lone one */
				if (!strchr(spec, ',')) {
					fprintf(cli_err, "could not find any snapshots to destroy; check snapshot names.\n");
					ret = 1;
				}
				continue;
			}
		}
		for (size_t i = lo; i <= hi && ret == 0; i++) {
			if (!snaps[i])
				continue;
			char fn[DS_NAME_MAX];
			dsl_fullname(d, snaps[i], fn, sizeof(fn));
			if (snaps[i]->nholds) {
				fprintf(cli_err, "cannot destroy snapshot %s: dataset is busy\n", fn);
				ret = 1;
				break;
			}
			if (dsl_destroy(d, snaps[i]) < 0) {
				ret = terr_code() == EBUSY && strstr(terr_msg(), "clones") ? clone_message(d, snaps[i], fn, "snapshot") : cli_fail("destroy '%s'", fn);
				break;
			}
			snaps[i] = NULL;
			*any = 1;
		}
	}
	free(copy);
	free(snaps);
	return ret;
}

static int destroy_snaps_rec(dsl_t *d, dsl_ds_t *ds, const char *spec, int *any)
{
	char fn[DS_NAME_MAX];
	dsl_fullname(d, ds, fn, sizeof(fn));
	dsl_ds_t **snaps;
	size_t n = dsl_snapshots(d, ds, &snaps);
	int has = 0;
	for (size_t i = 0; i < n; i++)
		has |= !strcmp(snaps[i]->name, spec);
	free(snaps);
	if (has || strpbrk(spec, "%,"))
		TRY(destroy_snaps(d, ds, spec, fn, any) ? -1 : 0);
	dsl_ds_t **v;
	n = dsl_children(d, ds, &v);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = destroy_snaps_rec(d, v[i], spec, any);
	free(v);
	return rc;
}

static int do_destroy(int argc, char **argv)
{
	int c, recurse = 0;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "rRfnpv", NULL, NULL)) != -1) {
		if (c == 'r')
			recurse = 1;
		else if (c == 'R')
			return usage_err("-R: not supported yet");
		else if (c == 'n' || c == 'p' || c == 'v')
			return usage_err("-n/-p/-v: not supported yet");
		else if (c != 'f')
			return usage_err(NULL);
	}
	if (argc - opt_ind != 1)
		return usage_err(argc - opt_ind < 1 ? "missing dataset argument" : "too many arguments");
	const char *name = argv[opt_ind];
	cli_pool_t cp;
	if (cli_open_for(name, &cp) < 0)
		return cli_fail("open '%s'", name);
	if (cli_lu_busy(name, 1) < 0) { /* an iSCSI LU, or below/of one (comstar.c) */
		cli_close(&cp, 0);
		return cli_fail("destroy '%s'", name);
	}
	dsl_t *d = cp.dsl;
	const char *at = strchr(name, '@');
	int ret = 0;
	if (at) {
		char dsn[DS_NAME_MAX];
		snprintf(dsn, sizeof(dsn), "%.*s", (int)(at - name), name);
		dsl_ds_t *head = dsl_lookup(d, dsn);
		int any = 0;
		if (!head) {
			fprintf(cli_err, "cannot open '%s': dataset does not exist\n", dsn);
			ret = 1;
		} else if (recurse) {
			ret = destroy_snaps_rec(d, head, at + 1, &any) < 0 ? 1 : 0;
			if (!any && ret == 0) {
				fprintf(cli_err, "could not find any snapshots to destroy; check snapshot names.\n");
				ret = 1;
			}
		} else {
			ret = destroy_snaps(d, head, at + 1, dsn, &any);
		}
	} else {
		dsl_ds_t *ds = dsl_lookup(d, name);
		if (!ds && strchr(name, '#')) {
			fprintf(cli_err, "bookmark '%s' does not exist.\n", name);
			ret = 1;
		} else if (!ds) {
			ret = cli_fail("open '%s'", name);
		} else if (ds->parent == 0) {
			fprintf(cli_err, "cannot destroy '%s': operation does not apply to pools\n"
					"use 'zfs destroy -r %s' to destroy all datasets in the pool\n"
					"use 'zpool destroy %s' to destroy the pool itself\n", name, name, name);
			ret = 1;
		} else if (!recurse) {
			dsl_ds_t **v;
			size_t nc = dsl_children(d, ds, &v);
			free(v);
			size_t ns = dsl_snapshots(d, ds, &v);
			free(v);
			if (nc + ns) {
				fprintf(cli_err, "cannot destroy '%s': %s has children\n"
						"use '-r' to destroy the following datasets:\n",
					name, ds->type == DS_VOLUME ? "volume" : "filesystem");
				list_dependents(d, ds, cli_err);
				ret = 1;
			} else if (dsl_destroy(d, ds) < 0) {
				ret = cli_fail("destroy '%s'", name);
			}
		} else {
			/* clones of snapshots in the tree that live outside it block the destroy */
			for (size_t i = 0; i < d->nds && ret == 0; i++) {
				dsl_ds_t *o = d->ds[i]->origin ? dsl_by_id(d, d->ds[i]->origin) : NULL;
				if (!o)
					continue;
				char on[DS_NAME_MAX], cn[DS_NAME_MAX];
				dsl_fullname(d, o, on, sizeof(on));
				dsl_fullname(d, d->ds[i], cn, sizeof(cn));
				size_t ln = strlen(name);
				int o_in = !strncmp(on, name, ln) && (on[ln] == '/' || on[ln] == '@');
				int c_in = !strncmp(cn, name, ln) && (cn[ln] == '/' || cn[ln] == 0);
				if (o_in && !c_in)
					ret = clone_message(d, o, name, ds->type == DS_VOLUME ? "volume" : "filesystem");
			}
			if (ret == 0 && dsl_destroy_recursive(d, ds) < 0)
				ret = cli_fail("destroy '%s'", name);
		}
	}
	if (ret) {
		cli_close(&cp, 0);
		return ret;
	}
	if (cli_close(&cp, 1) < 0)
		return cli_fail("destroy '%s'", name);
	return 0;
}

int cmd_zfs(int argc, char **argv)
{
	cli_set_history("zfs", argc, argv);
	if (argc < 2) {
		fprintf(cli_err, "missing command\n");
		return usage_err(NULL);
	}
	const char *cmd = argv[1];
	argc--;
	argv++;
	if (cli_wants_help(argc, argv)) {
		usage(cli_out);
		return 0;
	}
	if (!strcmp(cmd, "create"))
		return do_create(argc, argv);
	if (!strcmp(cmd, "destroy"))
		return do_destroy(argc, argv);
	if (!strcmp(cmd, "snapshot") || !strcmp(cmd, "snap"))
		return do_snapshot(argc, argv);
	if (!strcmp(cmd, "rollback"))
		return do_rollback(argc, argv);
	if (!strcmp(cmd, "clone"))
		return do_clone(argc, argv);
	if (!strcmp(cmd, "list") || !strcmp(cmd, "ls"))
		return do_list(argc, argv);
	if (!strcmp(cmd, "get"))
		return do_get(argc, argv);
	if (!strcmp(cmd, "set"))
		return do_set(argc, argv);
	if (!strcmp(cmd, "inherit"))
		return do_inherit(argc, argv);
	if (!strcmp(cmd, "promote"))
		return do_promote(argc, argv);
	if (!strcmp(cmd, "bookmark"))
		return do_bookmark(argc, argv);
	if (!strcmp(cmd, "hold"))
		return do_hold_release(argc, argv, 1);
	if (!strcmp(cmd, "release"))
		return do_hold_release(argc, argv, 0);
	if (!strcmp(cmd, "holds"))
		return do_holds(argc, argv);
	if (!strcmp(cmd, "rename"))
		return do_rename(argc, argv);
	if (!strcmp(cmd, "send"))
		return cmd_send(argc, argv);
	if (!strcmp(cmd, "receive") || !strcmp(cmd, "recv"))
		return cmd_receive(argc, argv);
	static const char *later[] = { "diff", "upgrade", "mount", "unmount", "share", NULL };
	for (int i = 0; later[i]; i++)
		if (!strcmp(cmd, later[i])) {
			fprintf(cli_err, "zfs %s: not supported yet\n", cmd);
			return 1;
		}
	fprintf(cli_err, "unrecognized command '%s'\n", cmd);
	return usage_err(NULL);
}
