/* cli/zpool.c — the zpool personality: create, list, status, export, import, destroy, scrub,
 * get, set. */
#include <dirent.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "pool/known.h"
#include "util/err.h"
#include "util/names.h"
#include "util/nicenum.h"
#include "util/timefmt.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: zpool command args ...\n"
		   "where 'command' is one of the following:\n\n"
		   "\tcreate [-f] <pool> <file|device> ...\n"
		   "\tdestroy [-f] <pool>\n\n"
		   "\timport [-d dir]... [-D]\n"
		   "\timport [-d dir]... [-f] [-D] <pool | id>\n"
		   "\texport [-f] <pool> ...\n\n"
		   "\tlist [-Hp] [-o property[,...]] [pool] ...\n"
		   "\tstatus [-v] [pool] ...\n\n"
		   "\tscrub <pool> ...\n"
		   "\thistory [-il] [<pool>] ...\n\n"
		   "\tget [-Hp] [-o \"all\" | field[,...]] <\"all\" | property[,...]> <pool> ...\n"
		   "\tset <property=value> <pool>\n\n"
		   "Devices are files or block devices of at least 64M. A pool stripes data over them.\n"
		   "Pools this host has imported are remembered in $TARN_HOME/pools.cache\n"
		   "(default /var/lib/tarn); `zpool export` forgets one, `zpool import -d DIR` finds\n"
		   "pools on the files and devices in DIR.\n");
}

static int open_named_or_all(int argc, char **argv, char ***names, int *n);
static void free_names(char **names, int n);

static int usage_err(const char *fmt, const char *arg)
{
	if (fmt)
		fprintf(cli_err, fmt, arg);
	usage(cli_err);
	return 2;
}

static const char *health(const pool_t *p) { (void)p; return "ONLINE"; }

/* A pool just created or imported: log the command in its history, commit, and remember
 * it in the cache. */
static int adopt_pool(pool_t *p)
{
	dsl_t *d;
	int rc = dsl_open(p, &d);
	if (rc == 0) {
		rc = dsl_history_add(d, cli_history_line);
		if (rc == 0)
			rc = dsl_commit(d);
		dsl_close(d);
	}
	return rc == 0 ? known_add(p) : rc;
}

/* ---- create ---- */

/* The device checks of OpenZFS's zpool create, with its messages. -1 after printing. */
static int check_vdevs(const char *name, int n, char *const *paths, int force)
{
	struct stat st;
	for (int i = 0; i < n; i++)
		if (stat(paths[i], &st) < 0) {
			fprintf(cli_err, "cannot resolve path '%s'\n", paths[i]);
			return -1;
		}
	for (int i = 0; i < n; i++) {
		vdev_t v;
		if (vdev_open(&v, paths[i], 1) == 0) {
			uint64_t size = v.size;
			vdev_close(&v);
			if (size < VDEV_MIN_SIZE) {
				fprintf(cli_err, "cannot create '%s': one or more devices is less than the minimum "
						"size (64M)\n", name);
				return -1;
			}
		}
	}
	int active = 0, exported = 0;
	for (int i = 0; i < n; i++) {
		pool_label_t l;
		if (pool_read_label(paths[i], &l) == 0 && l.state != POOL_STATE_DESTROYED)
			*(l.state == POOL_STATE_ACTIVE ? &active : &exported) += 1;
		terr_clear();
	}
	if (!active && (!exported || force))
		return 0;
	fprintf(cli_err, "invalid vdev specification\n%s\n",
		force ? "the following errors must be manually repaired:" : "use '-f' to override the following errors:");
	for (int i = 0; i < n; i++) {
		pool_label_t l;
		if (pool_read_label(paths[i], &l) == 0 && l.state != POOL_STATE_DESTROYED &&
		    (l.state == POOL_STATE_ACTIVE || !force))
			fprintf(cli_err, "%s is part of %s pool '%s'\n", paths[i],
				l.state == POOL_STATE_ACTIVE ? "active" : "exported", l.name);
		terr_clear();
	}
	return -1;
}

static int do_create(int argc, char **argv)
{
	int c, force = 0;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "f", NULL, NULL)) != -1) {
		if (c == 'f')
			force = 1;
		else
			return usage_err(NULL, NULL);
	}
	if (argc - opt_ind < 1)
		return usage_err("missing pool name argument\n", NULL);
	if (argc - opt_ind < 2)
		return usage_err("missing vdev specification\n", NULL);
	const char *name = argv[opt_ind];
	if (name_check(name, NAME_POOL) < 0)
		return cli_fail("create '%s'", name);
	known_pool_t *k;
	int n;
	if (known_load(&k, &n) < 0)
		return cli_fail("create '%s'", name);
	for (int i = 0; i < n; i++)
		if (!strcmp(k[i].name, name)) {
			known_free(k, n);
			terr(EEXIST, "pool already exists");
			return cli_fail("create '%s'", name);
		}
	known_free(k, n);
	if (check_vdevs(name, argc - opt_ind - 1, argv + opt_ind + 1, force) < 0)
		return 1;
	pool_t *p;
	if (pool_create(name, argc - opt_ind - 1, argv + opt_ind + 1, force, &p) < 0)
		return cli_fail("create '%s'", name);
	int rc = adopt_pool(p);
	pool_close(p);
	if (rc < 0)
		return cli_fail("create '%s'", name);
	return 0;
}

static int do_history(int argc, char **argv)
{
	int c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "il", NULL, NULL)) != -1)
		if (c != 'i' && c != 'l')
			return usage_err(NULL, NULL);
	char **names;
	int n, ret = 0;
	if (open_named_or_all(argc - opt_ind, argv + opt_ind, &names, &n) < 0)
		return cli_fail("get history");
	for (int i = 0; i < n; i++) {
		cli_pool_t cp;
		char *text;
		if (cli_open_ro(names[i], &cp) < 0) {
			fprintf(cli_err, "cannot open '%s': %s\n", names[i], terr_msg());
			ret = 1;
			continue;
		}
		if (dsl_history_read(cp.dsl, &text) < 0) {
			ret = cli_fail("get history for '%s'", names[i]);
		} else {
			fprintf(cli_out, "History for '%s':\n%s\n", names[i], text);
			free(text);
		}
		cli_close(&cp, 0);
	}
	free_names(names, n);
	return ret;
}

/* ---- list / get ---- */

static const char *const pool_props[] = { "name", "size", "allocated", "free", "checkpoint", "expandsize",
					  "fragmentation", "capacity", "dedupratio", "health", "altroot",
					  "guid", "version", "readonly", "comment", NULL };

/* OpenZFS feature flags tools probe, and what tarn has of each. */
static const struct {
	const char *name;
	int have;
} features[] = {
	{ "async_destroy", 0 },  { "empty_bpobj", 1 },	    { "lz4_compress", 1 },     { "multi_vdev_crash_dump", 0 },
	{ "spacemap_histogram", 0 }, { "enabled_txg", 1 }, { "hole_birth", 1 },      { "extensible_dataset", 1 },
	{ "embedded_data", 0 },	 { "bookmarks", 1 },	    { "filesystem_limits", 0 }, { "large_blocks", 0 },
	{ "large_dnode", 0 },	 { "sha512", 0 },	    { "skein", 0 },	       { "edonr", 0 },
	{ "userobj_accounting", 0 }, { "encryption", 0 },   { "project_quota", 0 },    { "device_removal", 0 },
	{ "obsolete_counts", 0 }, { "zpool_checkpoint", 0 }, { "spacemap_v2", 1 },      { "allocation_classes", 0 },
	{ "resilver_defer", 0 }, { "bookmark_v2", 0 },	    { "redaction_bookmarks", 0 }, { "redacted_datasets", 0 },
	{ "bookmark_written", 0 }, { "log_spacemap", 1 },   { "livelist", 0 },	       { "device_rebuild", 0 },
	{ "zstd_compress", 1 },	 { "draid", 0 },	    { "zilsaxattr", 0 },       { "head_errlog", 0 },
	{ "blake3", 0 },	 { "block_cloning", 0 },    { "vdev_zaps_v2", 0 },
};

static int pool_prop_known(const char *n)
{
	for (int i = 0; pool_props[i]; i++)
		if (!strcmp(pool_props[i], n))
			return 1;
	return !strncmp(n, "feature@", 8);
}

static const char *prop_alias(const char *n)
{
	if (!strcmp(n, "alloc"))
		return "allocated";
	if (!strcmp(n, "cap"))
		return "capacity";
	if (!strcmp(n, "frag"))
		return "fragmentation";
	if (!strcmp(n, "dedup"))
		return "dedupratio";
	if (!strcmp(n, "ckpoint"))
		return "checkpoint";
	return n;
}

static void pool_prop_value(cli_pool_t *cp, const char *prop, int parsable, char *out, size_t len, const char **src)
{
	pool_t *p = cp->pool;
	uint64_t size = pool_size(p), alloc = pool_allocated(p);
	*src = "-";
	if (!strcmp(prop, "name"))
		snprintf(out, len, "%s", p->name);
	else if (!strcmp(prop, "size") || !strcmp(prop, "allocated") || !strcmp(prop, "free")) {
		uint64_t v = !strcmp(prop, "size") ? size : !strcmp(prop, "free") ? size - alloc : alloc;
		if (parsable)
			snprintf(out, len, "%llu", (unsigned long long)v);
		else
			nicenum(v, out, len);
	} else if (!strcmp(prop, "checkpoint") || !strcmp(prop, "expandsize")) {
		snprintf(out, len, "-"); /* OpenZFS prints - for zero, even with -p */
	} else if (!strcmp(prop, "fragmentation")) {
		snprintf(out, len, parsable ? "0" : "0%%");
	} else if (!strcmp(prop, "capacity")) {
		unsigned cap = size ? (unsigned)(alloc * 100 / size) : 0;
		snprintf(out, len, parsable ? "%u" : "%u%%", cap);
	} else if (!strcmp(prop, "dedupratio")) {
		snprintf(out, len, parsable ? "1.00" : "1.00x");
	} else if (!strcmp(prop, "health")) {
		snprintf(out, len, "%s", health(p));
	} else if (!strcmp(prop, "altroot")) {
		snprintf(out, len, "-");
		*src = "default";
	} else if (!strcmp(prop, "guid")) {
		snprintf(out, len, "%llu", (unsigned long long)p->guid);
	} else if (!strcmp(prop, "version")) {
		snprintf(out, len, "-");
		*src = "default";
	} else if (!strcmp(prop, "readonly")) {
		snprintf(out, len, "off");
	} else if (!strcmp(prop, "comment")) {
		const char *v = dsl_pprop_get(cp->dsl, "comment");
		snprintf(out, len, "%s", v ? v : "-");
		*src = v ? "local" : "default";
	} else if (!strncmp(prop, "feature@", 8)) {
		/* the feature flags tools probe, mapped to what tarn does */
		const char *f = prop + 8;
		snprintf(out, len, "disabled");
		for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
			if (!strcmp(features[i].name, f) && features[i].have)
				snprintf(out, len, "active");
		*src = "local";
	} else {
		snprintf(out, len, "-");
	}
}

static int split_list(char *s, char **out, int max)
{
	int n = 0;
	for (char *save = NULL, *t = strtok_r(s, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
		out[n++] = t;
	return n;
}

static int open_named_or_all(int argc, char **argv, char ***names, int *n)
{
	if (argc > 0) {
		*names = calloc((size_t)argc + 1, sizeof(char *));
		for (int i = 0; i < argc; i++)
			(*names)[i] = strdup(argv[i]);
		*n = argc;
		return 0;
	}
	return cli_known_names(names, n);
}

static void free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int do_list(int argc, char **argv)
{
	int c, scripted = 0, parsable = 0;
	char *cols[64], *ocopy = NULL;
	int ncols = 0;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "Hpo:", NULL, NULL)) != -1) {
		switch (c) {
		case 'H': scripted = 1; break;
		case 'p': parsable = 1; break;
		case 'o':
			free(ocopy);
			ocopy = strdup(opt_arg);
			ncols = split_list(ocopy, cols, 64);
			break;
		default: return usage_err(NULL, NULL);
		}
	}
	if (!ncols) {
		static const char *def[] = { "name", "size", "allocated", "free", "checkpoint", "expandsize",
					     "fragmentation", "capacity", "dedupratio", "health", "altroot" };
		ncols = 11;
		for (int i = 0; i < ncols; i++)
			cols[i] = (char *)def[i];
	}
	const char *hdr[64];
	int right[64];
	for (int i = 0; i < ncols; i++) {
		cols[i] = (char *)prop_alias(cols[i]);
		if (!pool_prop_known(cols[i])) {
			fprintf(cli_err, "bad property list: invalid property '%s'\n", cols[i]);
			free(ocopy);
			return usage_err(NULL, NULL);
		}
		static const struct { const char *p, *h; } hn[] = {
			{ "name", "NAME" }, { "size", "SIZE" }, { "allocated", "ALLOC" }, { "free", "FREE" },
			{ "checkpoint", "CKPOINT" }, { "expandsize", "EXPANDSZ" }, { "fragmentation", "FRAG" },
			{ "capacity", "CAP" }, { "dedupratio", "DEDUP" }, { "health", "HEALTH" }, { "altroot", "ALTROOT" },
			{ "guid", "GUID" }, { "version", "VERSION" }, { "readonly", "RO" }, { "comment", "COMMENT" } };
		hdr[i] = cols[i];
		for (size_t k = 0; k < sizeof(hn) / sizeof(hn[0]); k++)
			if (!strcmp(hn[k].p, cols[i]))
				hdr[i] = hn[k].h;
		right[i] = strcmp(cols[i], "name") && strcmp(cols[i], "health") && strcmp(cols[i], "altroot") &&
			   strcmp(cols[i], "comment");
	}
	table_t t;
	table_init(&t, ncols, hdr, right);
	char **names;
	int n, ret = 0;
	if (open_named_or_all(argc - opt_ind, argv + opt_ind, &names, &n) < 0) {
		table_free(&t);
		free(ocopy);
		return cli_fail("list pools");
	}
	for (int i = 0; i < n; i++) {
		cli_pool_t cp;
		if (cli_open_ro(names[i], &cp) < 0) {
			fprintf(cli_err, "cannot open '%s': %s\n", names[i], terr_msg());
			ret = 1;
			continue;
		}
		char vals[64][256];
		const char *cells[64];
		for (int k = 0; k < ncols; k++) {
			const char *src;
			pool_prop_value(&cp, cols[k], parsable, vals[k], sizeof(vals[k]), &src);
			cells[k] = vals[k];
		}
		table_add(&t, cells);
		cli_close(&cp, 0);
	}
	if (n == 0 && argc - opt_ind == 0 && !scripted)
		fprintf(cli_out, "no pools available\n");
	else if (t.nrows)
		table_print(&t, cli_out, scripted, 1);
	table_free(&t);
	free_names(names, n);
	free(ocopy);
	return ret;
}

static int do_get(int argc, char **argv)
{
	int c, scripted = 0, parsable = 0;
	opt_ind = 1;
	char *fields = NULL;
	while ((c = opt_getopt_long(argc, argv, "Hpo:", NULL, NULL)) != -1) {
		switch (c) {
		case 'H': scripted = 1; break;
		case 'p': parsable = 1; break;
		case 'o': fields = opt_arg; break;
		default: return usage_err(NULL, NULL);
		}
	}
	if (argc - opt_ind < 1)
		return usage_err("missing property argument\n", NULL);
	char *plist = strdup(argv[opt_ind++]);
	char *props[64];
	int np = 0;
	char featbuf[64][64];
	if (!strcmp(plist, "all")) {
		for (int i = 1; pool_props[i]; i++) /* all: every property but the name */
			props[np++] = (char *)pool_props[i];
		for (size_t i = 0; i < sizeof(features) / sizeof(features[0]) && np < 64; i++) {
			snprintf(featbuf[i], sizeof(featbuf[i]), "feature@%s", features[i].name);
			props[np++] = featbuf[i];
		}
	} else {
		np = split_list(plist, props, 64);
		for (int i = 0; i < np; i++) {
			props[i] = (char *)prop_alias(props[i]);
			if (!pool_prop_known(props[i])) {
				fprintf(cli_err, "bad property list: invalid property '%s'\n", props[i]);
				free(plist);
				return 2;
			}
		}
	}
	/* output fields */
	const char *fall[] = { "name", "property", "value", "source" };
	char *fl[4];
	int nf = 0;
	char *fcopy = fields ? strdup(fields) : NULL;
	if (fcopy && strcmp(fcopy, "all")) {
		nf = split_list(fcopy, fl, 4);
		for (int i = 0; i < nf; i++) {
			int okf = 0;
			for (int k = 0; k < 4; k++)
				okf |= !strcmp(fl[i], fall[k]);
			if (!okf) {
				fprintf(cli_err, "invalid field '%s'\n", fl[i]);
				free(plist);
				free(fcopy);
				return 2;
			}
		}
	} else {
		for (nf = 0; nf < 4; nf++)
			fl[nf] = (char *)fall[nf];
	}
	const char *hdr[4];
	for (int i = 0; i < nf; i++)
		hdr[i] = !strcmp(fl[i], "name") ? "NAME" : !strcmp(fl[i], "property") ? "PROPERTY"
						     : !strcmp(fl[i], "value")  ? "VALUE"
										: "SOURCE";
	table_t t;
	table_init(&t, nf, hdr, NULL);
	char **names;
	int n, ret = 0;
	if (open_named_or_all(argc - opt_ind, argv + opt_ind, &names, &n) < 0) {
		free(plist);
		free(fcopy);
		table_free(&t);
		return cli_fail("get");
	}
	for (int i = 0; i < n; i++) {
		cli_pool_t cp;
		if (cli_open_ro(names[i], &cp) < 0) {
			fprintf(cli_err, "cannot open '%s': %s\n", names[i], terr_msg());
			ret = 1;
			continue;
		}
		for (int k = 0; k < np; k++) {
			char val[256];
			const char *src, *cells[4];
			pool_prop_value(&cp, props[k], parsable, val, sizeof(val), &src);
			for (int f = 0; f < nf; f++)
				cells[f] = !strcmp(fl[f], "name") ? names[i] : !strcmp(fl[f], "property") ? props[k]
									   : !strcmp(fl[f], "value")  ? val
												      : src;
			table_add(&t, cells);
		}
		cli_close(&cp, 0);
	}
	table_print(&t, cli_out, scripted, 1);
	table_free(&t);
	free_names(names, n);
	free(plist);
	free(fcopy);
	return ret;
}

static int do_set(int argc, char **argv)
{
	if (argc != 3)
		return usage_err(argc < 3 ? "missing property=value or pool name argument\n" : "too many arguments\n",
				 NULL);
	char *eq = strchr(argv[1], '=');
	if (!eq)
		return usage_err("missing value in property=value argument\n", NULL);
	*eq = 0;
	const char *prop = argv[1], *val = eq + 1;
	cli_pool_t cp;
	if (strcmp(prop, "comment")) {
		if (!pool_prop_known(prop))
			terr(EINVAL, "invalid property '%s'", prop);
		else
			terr(EINVAL, "'%s' is readonly", prop);
		fprintf(cli_err, "cannot set property for '%s': %s\n", argv[2], terr_msg());
		return 1;
	}
	if (strlen(val) > 32) {
		fprintf(cli_err, "cannot set property for '%s': comment must not exceed 32 characters\n", argv[2]);
		return 1;
	}
	for (const char *ch = val; *ch; ch++)
		if (*ch < 0x20 || *ch == 0x7f) {
			fprintf(cli_err, "cannot set property for '%s': comment may only have printable characters\n",
				argv[2]);
			return 1;
		}
	if (cli_open(argv[2], &cp) < 0)
		return cli_fail("open '%s'", argv[2]);
	int rc = dsl_pprop_set(cp.dsl, "comment", val);
	return cli_finish(&cp, rc, "set property for '%s'", argv[2]);
}

/* ---- status ---- */

static void fmt_duration(uint64_t secs, char *buf, size_t len)
{
	snprintf(buf, len, "%02llu:%02llu:%02llu", (unsigned long long)(secs / 3600),
		 (unsigned long long)(secs / 60 % 60), (unsigned long long)(secs % 60));
}

static int status_one(const char *name, int verbose)
{
	cli_pool_t cp;
	if (cli_open_ro(name, &cp) < 0) {
		fprintf(cli_err, "cannot open '%s': %s\n", name, terr_msg());
		return 1;
	}
	pool_t *p = cp.pool;
	dsl_t *d = cp.dsl;
	uint64_t data_errors = 0;
	const char *de = dsl_pprop_get(d, "errors.data");
	if (de)
		data_errors = strtoull(de, NULL, 10);
	fprintf(cli_out, "  pool: %s\n state: %s\n", p->name, health(p));
	if (data_errors)
		fprintf(cli_out, "status: One or more devices has experienced an error resulting in data\n"
		       "\tcorruption.  Applications may be affected.\n"
		       "action: Restore the file in question if possible.  Otherwise restore the\n"
		       "\tentire pool from backup.\n");
	const char *se = dsl_pprop_get(d, "scan.end"), *ss = dsl_pprop_get(d, "scan.start");
	if (se && ss) {
		char when[64], dur[32], rep[32];
		int64_t end = (int64_t)strtoll(se, NULL, 10);
		uint64_t start = strtoull(ss, NULL, 10);
		time_t tt = (time_t)end;
		struct tm tm;
		localtime_r(&tt, &tm);
		strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", &tm);
		fmt_duration((uint64_t)end > start ? (uint64_t)end - start : 0, dur, sizeof(dur));
		nicebytes(0, rep, sizeof(rep));
		fprintf(cli_out, "  scan: scrub repaired %s in %s with %s errors on %s\n", rep, dur,
		       dsl_pprop_get(d, "scan.errors") ? dsl_pprop_get(d, "scan.errors") : "0", when);
	} else {
		fprintf(cli_out, "  scan: none requested\n");
	}
	fprintf(cli_out, "config:\n\n");
	/* the layout of OpenZFS's print_status_config: name column at least 10 wide, children
	 * indented by 2, state in 8, counters right-aligned in 5 */
	int namewidth = (int)strlen(p->name);
	for (int i = 0; i < p->nvdevs; i++)
		if ((int)strlen(p->vdevs[i].path) + 2 > namewidth)
			namewidth = (int)strlen(p->vdevs[i].path) + 2;
	if (namewidth < 10)
		namewidth = 10;
	fprintf(cli_out, "\t%-*s  %-8s %5s %5s %5s\n", namewidth, "NAME", "STATE", "READ", "WRITE", "CKSUM");
	char cells[POOL_MAX_VDEVS][3][16];
	unsigned long long sum[3] = { 0, 0, 0 };
	for (int i = 0; i < p->nvdevs; i++) {
		char key[32];
		unsigned long long e[3] = { 0, 0, 0 };
		snprintf(key, sizeof(key), "errors.vdev%d", i);
		const char *v = dsl_pprop_get(d, key);
		if (v && sscanf(v, "%llu %llu %llu", &e[0], &e[1], &e[2]) != 3)
			e[0] = e[1] = e[2] = 0;
		e[0] += p->vdevs[i].read_errors;
		e[1] += p->vdevs[i].write_errors;
		e[2] += p->vdevs[i].cksum_errors;
		for (int k = 0; k < 3; k++) {
			nicenum(e[k], cells[i][k], sizeof(cells[i][k]));
			sum[k] += e[k];
		}
	}
	char tot[3][16];
	for (int k = 0; k < 3; k++)
		nicenum(sum[k], tot[k], sizeof(tot[k]));
	fprintf(cli_out, "\t%-*s  %-8s %5s %5s %5s\n", namewidth, p->name, health(p), tot[0], tot[1], tot[2]);
	for (int i = 0; i < p->nvdevs; i++)
		fprintf(cli_out, "\t  %-*s  %-8s %5s %5s %5s\n", namewidth - 2, p->vdevs[i].path, "ONLINE", cells[i][0],
		       cells[i][1], cells[i][2]);
	fprintf(cli_out, "\n");
	if (data_errors)
		fprintf(cli_out, "errors: %llu data errors, use '-v' for a list\n", (unsigned long long)data_errors);
	else
		fprintf(cli_out, "errors: No known data errors\n");
	(void)verbose;
	cli_close(&cp, 0);
	return 0;
}

static int do_status(int argc, char **argv)
{
	int c, verbose = 0;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "vx", NULL, NULL)) != -1) {
		if (c == 'v')
			verbose = 1;
		else if (c != 'x')
			return usage_err(NULL, NULL);
	}
	char **names;
	int n, ret = 0;
	if (open_named_or_all(argc - opt_ind, argv + opt_ind, &names, &n) < 0)
		return cli_fail("get status");
	if (n == 0)
		fprintf(cli_out, "no pools available\n");
	for (int i = 0; i < n; i++) {
		if (i)
			fprintf(cli_out, "\n");
		ret |= status_one(names[i], verbose);
	}
	free_names(names, n);
	return ret;
}

/* ---- export / destroy / scrub ---- */

static int do_export(int argc, char **argv, int destroy)
{
	int c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "f", NULL, NULL)) != -1)
		if (c != 'f')
			return usage_err(NULL, NULL);
	if (argc - opt_ind < 1)
		return usage_err("missing pool argument\n", NULL);
	int ret = 0;
	for (int i = opt_ind; i < argc; i++) {
		cli_pool_t cp;
		const char *what = destroy ? "destroy" : "export";
		if (cli_lu_busy(argv[i], 1) < 0) { /* a volume of it is an iSCSI LU */
			ret = cli_fail("%s '%s'", what, argv[i]);
			continue;
		}
		if (cli_open(argv[i], &cp) < 0) {
			ret = cli_fail("open '%s'", argv[i]);
			continue;
		}
		if (cli_take_pool(&cp) < 0) { /* under tarnd: other commands use it */
			cli_close(&cp, 0);
			ret = cli_fail("%s '%s'", what, argv[i]);
			continue;
		}
		int rc = dsl_record_errors(cp.dsl);
		if (rc >= 0)
			rc = dsl_history_add(cp.dsl, cli_history_line);
		if (rc == 0)
			rc = dsl_commit(cp.dsl);
		dsl_close(cp.dsl);
		if (rc == 0)
			rc = pool_export(cp.pool, destroy ? POOL_STATE_DESTROYED : POOL_STATE_EXPORTED);
		else
			pool_close(cp.pool);
		if (rc == 0)
			rc = known_remove(argv[i]);
		if (rc < 0)
			ret = cli_fail("%s '%s'", what, argv[i]);
		if (destroy)
			break;
	}
	return ret;
}

static int do_scrub(int argc, char **argv)
{
	int c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "sp", NULL, NULL)) != -1) {
		fprintf(cli_err, "-%c: not supported yet (scrubs run to completion in the foreground)\n", c);
		return 2;
	}
	if (argc - opt_ind < 1)
		return usage_err("missing pool name argument\n", NULL);
	int ret = 0;
	for (int i = opt_ind; i < argc; i++) {
		cli_pool_t cp;
		uint64_t ex, errs;
		if (cli_open(argv[i], &cp) < 0) {
			ret = cli_fail("open '%s'", argv[i]);
			continue;
		}
		if (dsl_scrub(cp.dsl, &ex, &errs) < 0) {
			cli_close(&cp, 0);
			ret = cli_fail("scrub '%s'", argv[i]);
			continue;
		}
		if (cli_close(&cp, 1) < 0)
			ret = cli_fail("scrub '%s'", argv[i]);
	}
	return ret;
}

/* ---- import ---- */

typedef struct found {
	pool_label_t l;
	char *paths[POOL_MAX_VDEVS];
	int n;
	char *problem; /* a device that holds this pool but cannot be used (e.g. newer format) */
} found_t;

static int scan_dirs(char **dirs, int ndirs, found_t **out, int *nout)
{
	found_t *f = NULL;
	int nf = 0;
	for (int d = 0; d < ndirs; d++) {
		DIR *dh = opendir(dirs[d]);
		if (!dh) {
			free(f);
			return terr(errno, "cannot open '%s': %s", dirs[d], strerror(errno));
		}
		struct dirent *e;
		while ((e = readdir(dh))) {
			if (e->d_name[0] == '.')
				continue;
			char path[4096];
			struct stat st;
			snprintf(path, sizeof(path), "%s/%s", dirs[d], e->d_name);
			if (stat(path, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
				continue;
			pool_label_t l;
			char *problem = NULL;
			if (pool_read_label(path, &l) < 0) {
				if (terr_code() != ENOTSUP || !l.name[0]) {
					terr_clear();
					continue;
				}
				/* a tarn pool we cannot use: say why when it is asked for */
				if (asprintf(&problem, "%s: %s", path, terr_msg()) < 0)
					problem = NULL;
				terr_clear();
			}
			int k;
			for (k = 0; k < nf && f[k].l.pool_guid != l.pool_guid; k++)
				;
			if (k == nf) {
				found_t *nfp = realloc(f, (size_t)(nf + 1) * sizeof(*nfp));
				if (!nfp)
					break;
				f = nfp;
				memset(&f[nf], 0, sizeof(f[nf]));
				f[nf].l = l;
				nf++;
			}
			if (problem) {
				free(f[k].problem);
				f[k].problem = problem;
			} else if (f[k].n < POOL_MAX_VDEVS) {
				f[k].paths[f[k].n++] = realpath(path, NULL);
			}
		}
		closedir(dh);
	}
	*out = f;
	*nout = nf;
	return 0;
}

/* A cache entry whose devices no longer say the pool is active here (an export that was cut
 * short after it marked the labels, or a pool destroyed elsewhere) is stale. */
static int stale_entry(const known_pool_t *k)
{
	pool_label_t l;
	int stale = pool_read_label(k->paths[0], &l) < 0 || l.pool_guid != k->guid || l.state != POOL_STATE_ACTIVE;
	terr_clear();
	return stale;
}

static int do_import(int argc, char **argv)
{
	int c, force = 0, destroyed = 0;
	char *dirs[32];
	int ndirs = 0;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "d:fDN", NULL, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (ndirs < 32)
				dirs[ndirs++] = opt_arg;
			break;
		case 'f': force = 1; break;
		case 'D': destroyed = 1; break;
		case 'N': break;
		default: return usage_err(NULL, NULL);
		}
	}
	if (!ndirs) {
		static char devdir[] = "/dev/disk/by-id";
		dirs[ndirs++] = devdir;
	}
	found_t *f = NULL;
	int nf = 0;
	if (scan_dirs(dirs, ndirs, &f, &nf) < 0)
		return cli_fail("import");
	int ret = 0;
	const char *want = opt_ind < argc ? argv[opt_ind] : NULL;
	if (argc - opt_ind > 1) {
		fprintf(cli_err, "cannot import: renaming a pool on import is not supported yet\n");
		ret = 1;
		goto out;
	}
	if (!want) {
		int shown = 0;
		known_pool_t *kp;
		int nkp = 0;
		if (known_load(&kp, &nkp) < 0)
			kp = NULL, nkp = 0;
		for (int i = 0; i < nf; i++) {
			if ((f[i].l.state == POOL_STATE_DESTROYED) != destroyed)
				continue;
			int imported = 0; /* pools this host has imported are not offered */
			for (int k = 0; k < nkp; k++)
				imported |= kp[k].guid == f[i].l.pool_guid && !stale_entry(&kp[k]);
			if (imported)
				continue;
			int complete = f[i].n == (int)f[i].l.nvdevs;
			fprintf(cli_out, "%s   pool: %s\n     id: %llu\n  state: %s%s\n", shown ? "\n" : "", f[i].l.name,
			       (unsigned long long)f[i].l.pool_guid, complete ? "ONLINE" : "UNAVAIL",
			       destroyed ? " (DESTROYED)" : "");
			if (f[i].problem)
				fprintf(cli_out, " status: %s\n action: The pool cannot be imported.\n", f[i].problem);
			else if (complete)
				fprintf(cli_out, " action: The pool can be imported using its name or numeric identifier.\n");
			else
				fprintf(cli_out, " status: One or more devices are missing from the system.\n"
				       " action: The pool cannot be imported. Attach the missing\n"
				       "\tdevices and try again.\n");
			fprintf(cli_out, " config:\n\n");
			int nw = (int)strlen(f[i].l.name);
			for (int v = 0; v < f[i].n; v++)
				if ((int)strlen(f[i].paths[v]) + 2 > nw)
					nw = (int)strlen(f[i].paths[v]) + 2;
			if (nw < 10)
				nw = 10;
			fprintf(cli_out, "\t%-*s  %s\n", nw, f[i].l.name, complete ? "ONLINE" : "UNAVAIL");
			for (int v = 0; v < f[i].n; v++)
				fprintf(cli_out, "\t  %-*s  %s\n", nw - 2, f[i].paths[v], "ONLINE");
			shown++;
		}
		known_free(kp, nkp);
		if (!shown)
			fprintf(cli_out, "no pools available to import\n");
		goto out;
	}
	found_t *m = NULL;
	for (int i = 0; i < nf; i++) {
		if ((f[i].l.state == POOL_STATE_DESTROYED) != destroyed)
			continue;
		char gs[32];
		snprintf(gs, sizeof(gs), "%llu", (unsigned long long)f[i].l.pool_guid);
		if (!strcmp(f[i].l.name, want) || !strcmp(gs, want)) {
			if (m) {
				fprintf(cli_err, "cannot import '%s': more than one matching pool\n"
						"import by numeric ID instead\n", want);
				ret = 1;
				goto out;
			}
			m = &f[i];
		}
	}
	if (m && m->problem) {
		fprintf(cli_err, "cannot import '%s': %s\n", want, m->problem);
		ret = 1;
		goto out;
	}
	if (!m) {
		fprintf(cli_err, "cannot import '%s': no such pool available\n", want);
		ret = 1;
		goto out;
	}
	known_pool_t *k;
	int nk;
	if (known_load(&k, &nk) == 0) {
		for (int i = 0; i < nk; i++)
			if (!strcmp(k[i].name, m->l.name) && !stale_entry(&k[i])) {
				fprintf(cli_err, "cannot import '%s': a pool with that name is already created/imported,\n"
						"and no additional pools with that name were found\n", want);
				ret = 1;
			}
		known_free(k, nk);
		if (ret)
			goto out;
	}
	pool_t *p;
	int flags = (force ? POOL_IMPORT_FORCE : 0) | (destroyed ? POOL_IMPORT_DESTROYED | POOL_IMPORT_FORCE : 0);
	if (pool_import(m->n, m->paths, flags, &p) < 0) {
		fprintf(cli_err, "%s\n", terr_msg());
		ret = 1;
		goto out;
	}
	int rc = adopt_pool(p);
	if (rc < 0) {
		pool_export(p, POOL_STATE_EXPORTED);
		ret = cli_fail("import '%s'", want);
		goto out;
	}
	if (p->rewound)
		fprintf(cli_err, "pool '%s': the newest transaction group was damaged; imported the previous "
				"consistent state (txg %llu)\n", p->name, (unsigned long long)p->rewound_to);
	char imported[POOL_NAME_MAX];
	snprintf(imported, sizeof(imported), "%s", p->name);
	pool_close(p);
	cli_pool_added(imported);
out:
	for (int i = 0; i < nf; i++) {
		for (int v = 0; v < f[i].n; v++)
			free(f[i].paths[v]);
		free(f[i].problem);
	}
	free(f);
	return ret;
}

static int do_create_locked(int argc, char **argv, int unused)
{
	int rc = do_create(argc, argv);
	if (rc == 0)
		cli_pool_added(argv[opt_ind]);
	return rc;
}

static int do_import_locked(int argc, char **argv, int unused)
{
	return do_import(argc, argv);
}

int cmd_zpool(int argc, char **argv)
{
	cli_set_history("zpool", argc, argv);
	if (argc < 2) {
		fprintf(cli_err, "missing command\n");
		return usage_err(NULL, NULL);
	}
	const char *cmd = argv[1];
	argc--;
	argv++;
	if (cli_wants_help(argc, argv)) {
		usage(cli_out);
		return 0;
	}
	/* commands that add or remove pools run one at a time (under tarnd, several may come at
	 * once): the check "no pool of that name" and the cache update go together */
	static pthread_mutex_t admin = PTHREAD_MUTEX_INITIALIZER;
	int (*admin_cmd)(int, char **, int) = NULL;
	int arg = 0;
	if (!strcmp(cmd, "create"))
		admin_cmd = do_create_locked;
	else if (!strcmp(cmd, "import"))
		admin_cmd = do_import_locked;
	else if (!strcmp(cmd, "export") || !strcmp(cmd, "destroy"))
		admin_cmd = do_export, arg = !strcmp(cmd, "destroy");
	if (admin_cmd) {
		pthread_mutex_lock(&admin);
		int rc = admin_cmd(argc, argv, arg);
		pthread_mutex_unlock(&admin);
		return rc;
	}
	if (!strcmp(cmd, "list"))
		return do_list(argc, argv);
	if (!strcmp(cmd, "get"))
		return do_get(argc, argv);
	if (!strcmp(cmd, "set"))
		return do_set(argc, argv);
	if (!strcmp(cmd, "status"))
		return do_status(argc, argv);
	if (!strcmp(cmd, "scrub"))
		return do_scrub(argc, argv);
	if (!strcmp(cmd, "history"))
		return do_history(argc, argv);
	fprintf(cli_err, "unrecognized command '%s'\n", cmd);
	return usage_err(NULL, NULL);
}
