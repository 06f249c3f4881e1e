/* cli/stmfadm.c — `stmfadm`: logical units, target and host groups, views, targets (listing),
 * with illumos stmfadm's syntax and output. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/comstar.h"
#include "daemon/daemon.h"
#include "util/err.h"

#define PROPS_FORMAT "    %-18s: "
#define VIEW_FORMAT "    %-13s: "

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s <subcommand> [args]\n\n"
		"\tcreate-lu [-p property=value]... <lu file>\n"
		"\tdelete-lu <lu name>...\n"
		"\tlist-lu [-v] [lu name]...\n"
		"\tmodify-lu -p property=value... <lu name>     (wcd=true|false, alias=, serial=)\n"
		"\tcreate-tg <group name>           delete-tg <group name>\n"
		"\tadd-tg-member -g <group name> <target IQN>...\n"
		"\tremove-tg-member -g <group name> <target IQN>...\n"
		"\tlist-tg [-v] [group name]...\n"
		"\tcreate-hg <group name>           delete-hg <group name>\n"
		"\tadd-hg-member -g <group name> <initiator IQN>...\n"
		"\tremove-hg-member -g <group name> <initiator IQN>...\n"
		"\tlist-hg [-v] [group name]...\n"
		"\tadd-view [-h host group] [-t target group] [-n LUN] <lu name>\n"
		"\tlist-view -l <lu name> [entry]...\n"
		"\tremove-view -l <lu name> (-a | <entry>...)\n"
		"\tlist-target [-v] [target]...\n"
		"\tlist-state\n\n"
		"An lu name is the LU's GUID (32 hex digits, any case). A view shows an LU, as LUN\n"
		"(0..16383, the lowest free one by default), to the initiators of a host group (all\n"
		"by default) on the targets of a target group (all by default). An initiator or a\n"
		"target is a member of at most one group of each kind. wcd=true disables the write\n"
		"cache (every write commits before it is acknowledged); by default it is enabled and\n"
		"SYNCHRONIZE CACHE commits. Configuration: $TARN_HOME/stmf.conf.\n",
		prog);
}

/* ---- logical units ---- */

static int guid_arg(const char *prog, const char *s, char g[STMF_GUID_LEN + 1])
{
	if (stmf_parse_guid(s, g) < 0) {
		fprintf(cli_err, "%s: %s\n", prog, terr_msg());
		return 1;
	}
	return 0;
}

static int create_lu(const char *prog, int argc, char **argv)
{
	char *props[32];
	int np = 0, c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "p:s:", NULL, NULL)) != -1) {
		if (c == 'p' && np < 32) {
			props[np++] = opt_arg;
		} else if (c == 's') {
			fprintf(cli_err, "%s: -s: the LU size is the volume's: use zfs set volsize\n", prog);
			return 1;
		} else {
			return comstar_usage(prog, c == 'p' ? "too many -p options" : NULL);
		}
	}
	if (argc - opt_ind != 1)
		return comstar_usage(prog, argc - opt_ind < 1 ? "create-lu: missing lu file" : "create-lu: too many operands");
	char guid[STMF_GUID_LEN + 1];
	if (comstar_create_lu(prog, argv[opt_ind], props, np, guid))
		return 1;
	fprintf(cli_out, "Logical unit created: %s\n", guid);
	return 0;
}

static int delete_lu(const char *prog, int argc, char **argv)
{
	if (argc < 2)
		return comstar_usage(prog, "delete-lu: missing lu name");
	int ret = 0;
	for (int i = 1; i < argc; i++) {
		char g[STMF_GUID_LEN + 1];
		stmf_txn_t t;
		if (guid_arg(prog, argv[i], g)) {
			ret = 1;
			continue;
		}
		if (comstar_begin(prog, &t))
			return 1;
		if (stmf_lu_delete(&t.m, g) < 0)
			ret = comstar_fail(prog, &t);
		else if (comstar_commit(prog, &t))
			ret = 1;
	}
	return ret;
}

static void lu_verbose(const stmf_t *m, const stmf_lu_t *lu)
{
	comstar_lu_state_t st;
	comstar_lu_state(lu->dataset, &st);
	const stmf_view_t *v[1];
	FILE *o = cli_out;
	fprintf(o, PROPS_FORMAT "%s\n", "Operational Status", st.online ? "Online" : "Offline");
	fprintf(o, PROPS_FORMAT "%s\n", "Provider Name", "sbd");
	if (lu->alias)
		fprintf(o, PROPS_FORMAT "%s\n", "Alias", lu->alias);
	else
		fprintf(o, PROPS_FORMAT "/dev/zvol/rdsk/%s\n", "Alias", lu->dataset);
	fprintf(o, PROPS_FORMAT "%zu\n", "View Entry Count", stmf_views_of(m, lu->guid, v, 0));
	fprintf(o, PROPS_FORMAT "/dev/zvol/rdsk/%s\n", "Data File", lu->dataset);
	fprintf(o, PROPS_FORMAT "%s\n", "Meta File", "not set");
	if (st.online)
		fprintf(o, PROPS_FORMAT "%llu\n", "Size", (unsigned long long)st.size);
	else
		fprintf(o, PROPS_FORMAT "%s\n", "Size", "not set");
	fprintf(o, PROPS_FORMAT "%s\n", "Block Size", "512");
	fprintf(o, PROPS_FORMAT "%s\n", "Management URL", "not set");
	fprintf(o, PROPS_FORMAT "%s\n", "Product ID", st.snapshot ? "tarn snapshot" : "tarn volume");
	fprintf(o, PROPS_FORMAT "%s\n", "Serial Num", lu->serial ? lu->serial : "not set");
	fprintf(o, PROPS_FORMAT "%s\n", "Write Protect", st.snapshot ? "Enabled" : "Disabled");
	fprintf(o, PROPS_FORMAT "%s\n", "Writeback Cache", lu->wcd ? "Disabled" : "Enabled");
	fprintf(o, PROPS_FORMAT "%s\n", "Access State", "Active");
}

static int list_lu(const char *prog, int argc, char **argv)
{
	int verbose = 0, c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "v", NULL, NULL)) != -1) {
		if (c != 'v')
			return comstar_usage(prog, NULL);
		verbose = 1;
	}
	stmf_t m;
	if (comstar_load(prog, &m))
		return 1;
	int ret = 0;
	for (int i = opt_ind; i <= argc; i++) {
		if (i == argc && opt_ind < argc)
			break;
		for (size_t k = 0; k < m.nlu; k++) {
			if (i < argc && strcasecmp(m.lu[k].guid, argv[i]))
				continue;
			fprintf(cli_out, "LU Name: %s\n", m.lu[k].guid);
			if (verbose)
				lu_verbose(&m, &m.lu[k]);
			if (i < argc)
				goto next;
		}
		if (i < argc) {
			char g[STMF_GUID_LEN + 1];
			if (stmf_parse_guid(argv[i], g) < 0)
				fprintf(cli_err, "%s: %s\n", prog, terr_msg());
			else
				fprintf(cli_err, "%s: %s: not found\n", prog, argv[i]);
			ret = 1;
		}
	next:;
	}
	stmf_free(&m);
	return ret;
}

static int modify_lu(const char *prog, int argc, char **argv)
{
	char *props[32];
	int np = 0, c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "p:s:f", NULL, NULL)) != -1) {
		if (c == 'p' && np < 32)
			props[np++] = opt_arg;
		else if (c == 's') {
			fprintf(cli_err, "%s: -s: the LU size is the volume's: use zfs set volsize\n", prog);
			return 1;
		} else if (c != 'f')
			return comstar_usage(prog, NULL);
	}
	if (argc - opt_ind != 1)
		return comstar_usage(prog, argc - opt_ind < 1 ? "modify-lu: missing lu name" : "modify-lu: too many operands");
	if (np == 0)
		return comstar_usage(prog, "modify-lu: nothing to change (-p property=value)");
	const char *arg = argv[opt_ind];
	char g[STMF_GUID_LEN + 1], ds[STMF_DATASET_MAX];
	if (arg[0] == '/') { /* a lu file, as illumos accepts */
		if (stmf_parse_zvol_path(arg, ds, sizeof(ds)) < 0)
			return comstar_fail(prog, NULL);
	} else if (guid_arg(prog, arg, g)) {
		return 1;
	}
	stmf_txn_t t;
	if (comstar_begin(prog, &t))
		return 1;
	stmf_lu_t *lu = arg[0] == '/' ? stmf_lu_by_dataset(&t.m, ds) : stmf_lu_find(&t.m, g);
	if (!lu) {
		terr(ENOENT, "%s: not found", arg);
		return comstar_fail(prog, &t);
	}
	for (int i = 0; i < np; i++) {
		char *eq = strchr(props[i], '=');
		if (!eq) {
			stmf_abort(&t);
			fprintf(cli_err, "%s: %s: property=value expected\n", prog, props[i]);
			return 2;
		}
		*eq = 0;
		int rc = stmf_lu_set(&t.m, lu, props[i], eq + 1);
		*eq = '=';
		if (rc < 0)
			return comstar_fail(prog, &t);
	}
	return comstar_commit(prog, &t);
}

/* ---- groups ---- */

static const char *kind_word(int kind) { return kind == STMF_TG ? "Target Group" : "Host Group"; }

static int group_create_delete(const char *prog, int kind, int create, int argc, char **argv)
{
	if (argc != 2)
		return comstar_usage(prog, argc < 2 ? "missing group name" : "too many operands");
	stmf_txn_t t;
	if (comstar_begin(prog, &t))
		return 1;
	int rc = create ? stmf_group_create(&t.m, kind, argv[1]) : stmf_group_delete(&t.m, kind, argv[1]);
	if (rc < 0)
		return comstar_fail(prog, &t);
	return comstar_commit(prog, &t);
}

static int group_members(const char *prog, int kind, int add, int argc, char **argv)
{
	static const struct option lo[] = { { "group-name", required_argument, 0, 'g' }, { 0, 0, 0, 0 } };
	const char *group = NULL;
	int c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "g:", lo, NULL)) != -1) {
		if (c != 'g')
			return comstar_usage(prog, NULL);
		group = opt_arg;
	}
	if (!group)
		return comstar_usage(prog, "-g <group name> is required");
	if (opt_ind >= argc)
		return comstar_usage(prog, kind == STMF_TG ? "missing target name" : "missing initiator name");
	stmf_txn_t t;
	if (comstar_begin(prog, &t))
		return 1;
	for (int i = opt_ind; i < argc; i++) {
		int rc = add ? stmf_group_add_member(&t.m, kind, group, argv[i])
			     : stmf_group_remove_member(&t.m, kind, group, argv[i]);
		if (rc < 0) /* all or nothing */
			return comstar_fail(prog, &t);
	}
	return comstar_commit(prog, &t);
}

static int group_list(const char *prog, int kind, int argc, char **argv)
{
	int verbose = 0, c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "v", NULL, NULL)) != -1) {
		if (c != 'v')
			return comstar_usage(prog, NULL);
		verbose = 1;
	}
	stmf_t m;
	if (comstar_load(prog, &m))
		return 1;
	int ret = 0;
	for (size_t k = 0; k < m.ngrp[kind]; k++) {
		const stmf_group_t *g = &m.grp[kind][k];
		int want = opt_ind == argc;
		for (int i = opt_ind; i < argc && !want; i++)
			want = !strcmp(argv[i], g->name);
		if (!want)
			continue;
		fprintf(cli_out, "%s: %s\n", kind_word(kind), g->name);
		for (size_t j = 0; verbose && j < g->n; j++)
			fprintf(cli_out, "\tMember: %s\n", g->members[j]);
	}
	for (int i = opt_ind; i < argc; i++)
		if (!stmf_group_find(&m, kind, argv[i])) {
			fprintf(cli_err, "%s: %s: not found\n", prog, argv[i]);
			ret = 1;
		}
	stmf_free(&m);
	return ret;
}

/* ---- views ---- */

static int add_view(const char *prog, int argc, char **argv)
{
	static const struct option lo[] = { { "host-group", required_argument, 0, 'h' },
					    { "target-group", required_argument, 0, 't' },
					    { "lun", required_argument, 0, 'n' },
					    { 0, 0, 0, 0 } };
	const char *hg = NULL, *tg = NULL, *lunarg = NULL;
	int c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "h:t:n:", lo, NULL)) != -1) {
		if (c == 'h')
			hg = opt_arg;
		else if (c == 't')
			tg = opt_arg;
		else if (c == 'n')
			lunarg = opt_arg;
		else
			return comstar_usage(prog, NULL);
	}
	if (argc - opt_ind != 1)
		return comstar_usage(prog, argc - opt_ind < 1 ? "add-view: missing lu name" : "add-view: too many operands");
	char g[STMF_GUID_LEN + 1];
	uint32_t lun = 0, entry;
	if (guid_arg(prog, argv[opt_ind], g))
		return 1;
	if (lunarg && stmf_parse_lun(lunarg, &lun) < 0)
		return comstar_fail(prog, NULL);
	stmf_txn_t t;
	if (comstar_begin(prog, &t))
		return 1;
	if (stmf_view_add(&t.m, g, hg, tg, !lunarg, lun, &entry) < 0)
		return comstar_fail(prog, &t);
	return comstar_commit(prog, &t);
}

static int lu_opt(const char *prog, int argc, char **argv, const char *shortopts, char g[STMF_GUID_LEN + 1], int *all)
{
	static const struct option lo[] = { { "lu-name", required_argument, 0, 'l' },
					    { "all", no_argument, 0, 'a' },
					    { 0, 0, 0, 0 } };
	const char *l = NULL;
	int c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
		if (c == 'l')
			l = opt_arg;
		else if (c == 'a' && all)
			*all = 1;
		else
			return comstar_usage(prog, NULL);
	}
	if (!l)
		return comstar_usage(prog, "-l <lu name> is required");
	return guid_arg(prog, l, g);
}

static int entry_arg(const char *s, uint32_t *e)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *s < '0' || *s > '9' || *end || v > STMF_LUN_MAX)
		return -1;
	*e = (uint32_t)v;
	return 0;
}

static int list_view(const char *prog, int argc, char **argv)
{
	char g[STMF_GUID_LEN + 1];
	int rc = lu_opt(prog, argc, argv, "l:", g, NULL);
	if (rc)
		return rc;
	stmf_t m;
	if (comstar_load(prog, &m))
		return 1;
	const stmf_view_t **v = calloc(m.nview + 1, sizeof(*v));
	size_t n = v ? stmf_views_of(&m, g, v, m.nview) : 0;
	int ret = 0;
	if (!v) {
		fprintf(cli_err, "%s: out of memory\n", prog);
		ret = 1;
	} else if (!stmf_lu_find(&m, g)) {
		fprintf(cli_err, "%s: %s: not found\n", prog, g);
		ret = 1;
	} else if (n == 0) {
		fprintf(cli_err, "%s: %s: no views found\n", prog, g);
		ret = 1;
	}
	for (size_t i = 0; ret == 0 && i < n; i++) {
		int want = opt_ind == argc;
		for (int k = opt_ind; k < argc && !want; k++) {
			uint32_t e;
			want = entry_arg(argv[k], &e) == 0 && e == v[i]->entry;
		}
		if (!want)
			continue;
		fprintf(cli_out, "View Entry: %u\n", v[i]->entry);
		fprintf(cli_out, VIEW_FORMAT "%s\n", "Host group", v[i]->hg ? v[i]->hg : "All");
		fprintf(cli_out, VIEW_FORMAT "%s\n", "Target group", v[i]->tg ? v[i]->tg : "All");
		fprintf(cli_out, VIEW_FORMAT "%u\n", "LUN", v[i]->lun);
	}
	for (int k = opt_ind; ret == 0 && k < argc; k++) {
		uint32_t e;
		int found = 0;
		for (size_t i = 0; i < n && !found; i++)
			found = entry_arg(argv[k], &e) == 0 && e == v[i]->entry;
		if (!found) {
			fprintf(cli_err, "%s: %s, %s: not found\n", prog, g, argv[k]);
			ret = 1;
		}
	}
	free(v);
	stmf_free(&m);
	return ret;
}

static int remove_view(const char *prog, int argc, char **argv)
{
	char g[STMF_GUID_LEN + 1];
	int all = 0;
	int rc = lu_opt(prog, argc, argv, "l:a", g, &all);
	if (rc)
		return rc;
	if (!all && opt_ind == argc)
		return comstar_usage(prog, "remove-view: view entry numbers or -a required");
	if (all && opt_ind < argc)
		return comstar_usage(prog, "remove-view: -a and view entry numbers exclude each other");
	for (int k = opt_ind; k < argc; k++) {
		uint32_t e;
		if (entry_arg(argv[k], &e) < 0) {
			fprintf(cli_err, "%s: %s: invalid view entry number\n", prog, argv[k]);
			return 1;
		}
	}
	stmf_txn_t t;
	if (comstar_begin(prog, &t))
		return 1;
	if (!stmf_lu_find(&t.m, g)) {
		terr(ENOENT, "%s: not found", g);
		return comstar_fail(prog, &t);
	}
	if (all) {
		const stmf_view_t *v[1];
		if (stmf_views_of(&t.m, g, v, 0) == 0) {
			terr(ENOENT, "%s: no views found", g);
			return comstar_fail(prog, &t);
		}
		for (size_t i = t.m.nview; i-- > 0;)
			if (!strcmp(t.m.view[i].guid, g))
				stmf_view_remove(&t.m, g, t.m.view[i].entry);
	}
	for (int k = opt_ind; k < argc; k++) {
		uint32_t e = 0;
		entry_arg(argv[k], &e);
		if (stmf_view_remove(&t.m, g, e) < 0)
			return comstar_fail(prog, &t);
	}
	return comstar_commit(prog, &t);
}

/* ---- targets, state ---- */

static int list_target(const char *prog, int argc, char **argv)
{
	int verbose = 0, c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "v", NULL, NULL)) != -1) {
		if (c != 'v')
			return comstar_usage(prog, NULL);
		verbose = 1;
	}
	stmf_t m;
	if (comstar_load(prog, &m))
		return 1;
	int ret = 0;
	for (size_t k = 0; k < m.ntgt; k++) {
		const stmf_target_t *t = &m.tgt[k];
		int want = opt_ind == argc;
		for (int i = opt_ind; i < argc && !want; i++)
			want = stmf_target_find(&m, argv[i]) == t;
		if (!want)
			continue;
		fprintf(cli_out, "Target: %s\n", t->iqn);
		if (!verbose)
			continue;
		fprintf(cli_out, PROPS_FORMAT "%s\n", "Operational Status", "Online");
		fprintf(cli_out, PROPS_FORMAT "%s\n", "Provider Name", "iscsit");
		fprintf(cli_out, PROPS_FORMAT "%s\n", "Alias", t->alias ? t->alias : "-");
		fprintf(cli_out, PROPS_FORMAT "%s\n", "Protocol", "iSCSI");
		fprintf(cli_out, PROPS_FORMAT "%d\n", "Sessions", cli_in_daemon() ? daemon_iscsi_sessions(t->iqn) : 0);
	}
	for (int i = opt_ind; i < argc; i++)
		if (!stmf_target_find(&m, argv[i])) {
			fprintf(cli_err, "%s: %s: not found\n", prog, argv[i]);
			ret = 1;
		}
	stmf_free(&m);
	return ret;
}

static int list_state(const char *prog, int argc, char **argv)
{
	if (argc > 1)
		return comstar_usage(prog, "list-state: no operands expected");
	fprintf(cli_out, "%-18s: %s\n", "Operational Status", cli_in_daemon() ? "online" : "offline");
	fprintf(cli_out, "%-18s: %s\n", "Config Status", "initialized");
	fprintf(cli_out, "%-18s: %s\n", "ALUA Status", "disabled");
	fprintf(cli_out, "%-18s: %s\n", "ALUA Node", "0");
	return 0;
}

int stmfadm_main(const char *prog, int argc, char **argv)
{
	if (argc < 2) {
		usage(cli_err, prog);
		return 2;
	}
	const char *s = argv[1];
	if (cli_wants_help(argc - 1, argv + 1) || !strcmp(s, "-h")) {
		usage(cli_out, prog);
		return 0;
	}
	argc--;
	argv++;
	if (!strcmp(s, "create-lu"))
		return create_lu(prog, argc, argv);
	if (!strcmp(s, "delete-lu"))
		return delete_lu(prog, argc, argv);
	if (!strcmp(s, "list-lu"))
		return list_lu(prog, argc, argv);
	if (!strcmp(s, "modify-lu"))
		return modify_lu(prog, argc, argv);
	if (!strcmp(s, "create-tg") || !strcmp(s, "delete-tg"))
		return group_create_delete(prog, STMF_TG, s[0] == 'c', argc, argv);
	if (!strcmp(s, "create-hg") || !strcmp(s, "delete-hg"))
		return group_create_delete(prog, STMF_HG, s[0] == 'c', argc, argv);
	if (!strcmp(s, "add-tg-member") || !strcmp(s, "remove-tg-member"))
		return group_members(prog, STMF_TG, s[0] == 'a', argc, argv);
	if (!strcmp(s, "add-hg-member") || !strcmp(s, "remove-hg-member"))
		return group_members(prog, STMF_HG, s[0] == 'a', argc, argv);
	if (!strcmp(s, "list-tg"))
		return group_list(prog, STMF_TG, argc, argv);
	if (!strcmp(s, "list-hg"))
		return group_list(prog, STMF_HG, argc, argv);
	if (!strcmp(s, "add-view"))
		return add_view(prog, argc, argv);
	if (!strcmp(s, "list-view"))
		return list_view(prog, argc, argv);
	if (!strcmp(s, "remove-view"))
		return remove_view(prog, argc, argv);
	if (!strcmp(s, "list-target"))
		return list_target(prog, argc, argv);
	if (!strcmp(s, "list-state"))
		return list_state(prog, argc, argv);
	if (!strcmp(s, "online-lu") || !strcmp(s, "offline-lu") || !strcmp(s, "online-target") ||
	    !strcmp(s, "offline-target") || !strcmp(s, "import-lu")) {
		fprintf(cli_err, "%s: %s: not supported (an LU is online while its volume exists)\n", prog, s);
		return 1;
	}
	fprintf(cli_err, "%s: %s: unknown subcommand\n", prog, s);
	usage(cli_err, prog);
	return 2;
}

int cmd_stmfadm(int argc, char **argv) { return stmfadm_main("stmfadm", argc, argv); }
