/* cli/comstar.c — COMSTAR's commands: shared helpers, `sbdadm` (LUs over volumes), the
 * `tarn iscsi` front end, and the busy check of zfs destroy/rename/rollback/receive.
 * stmfadm is in stmfadm.c, itadm in itadm.c; the model and stmf.conf in src/stmf. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/comstar.h"
#include "daemon/daemon.h"
#include "util/err.h"

/* ---- helpers ---- */

int comstar_usage(const char *prog, const char *msg)
{
	if (msg)
		fprintf(cli_err, "%s: %s\n", prog, msg);
	fprintf(cli_err, "For more information, run: %s --help\n", prog);
	return 2;
}

int comstar_begin(const char *prog, stmf_txn_t *t)
{
	if (stmf_begin(t) < 0) {
		fprintf(cli_err, "%s: %s\n", prog, terr_msg());
		return 1;
	}
	return 0;
}

int comstar_commit(const char *prog, stmf_txn_t *t)
{
	if (stmf_commit(t) < 0) {
		fprintf(cli_err, "%s: %s\n", prog, terr_msg());
		return 1;
	}
	if (cli_in_daemon())
		daemon_iscsi_changed();
	return 0;
}

int comstar_fail(const char *prog, stmf_txn_t *t)
{
	char msg[TERR_MSG_MAX];
	snprintf(msg, sizeof(msg), "%s", terr_msg());
	if (t)
		stmf_abort(t);
	fprintf(cli_err, "%s: %s\n", prog, msg);
	return 1;
}

int comstar_load(const char *prog, stmf_t *m)
{
	if (stmf_load(m) < 0) {
		fprintf(cli_err, "%s: %s\n", prog, terr_msg());
		return 1;
	}
	return 0;
}

void comstar_lu_state(const char *dataset, comstar_lu_state_t *st)
{
	memset(st, 0, sizeof(*st));
	cli_pool_t cp;
	if (cli_open_for_ro(dataset, &cp) < 0)
		return;
	dsl_ds_t *ds = dsl_lookup(cp.dsl, dataset);
	dsl_ds_t *head = ds && ds->type == DS_SNAPSHOT ? dsl_by_id(cp.dsl, ds->parent) : ds;
	if (ds && head && head->type == DS_VOLUME && !(ds->flags & DSF_INCONSISTENT) &&
	    (ds->type == DS_VOLUME || ds->type == DS_SNAPSHOT)) {
		st->online = 1;
		st->snapshot = ds->type == DS_SNAPSHOT;
		st->size = ds->volsize;
		st->volblocksize = ds->volblocksize;
	}
	cli_close(&cp, 0);
	terr_clear();
}

/* ---- the busy rule (zfs destroy, rename, rollback, receive) ---- */

int cli_lu_busy(const char *name, int family)
{
	stmf_t m;
	if (stmf_load(&m) < 0) { /* refuse: it may well be one */
		char msg[TERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", terr_msg());
		return terr(EBUSY, "cannot tell whether it is an iSCSI LU, so it counts as busy: %s", msg);
	}
	const stmf_lu_t *lu = stmf_dataset_in_use(&m, name, family);
	int rc = 0;
	if (lu)
		rc = terr(EBUSY, "dataset is busy (%s is iSCSI LU %s: sbdadm delete-lu first)", lu->dataset, lu->guid);
	stmf_free(&m);
	return rc;
}

/* ---- sbdadm ---- */

static void sbdadm_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s <subcommand> [args]\n\n"
		"\tcreate-lu <lu file>      make a volume (or a snapshot of one, read-only) a\n"
		"\t                         logical unit: /dev/zvol/rdsk/POOL/VOL, /dev/zvol/dsk/...\n"
		"\t                         or POOL/VOL[@SNAP]\n"
		"\tdelete-lu <GUID>         forget the LU and its views (the volume stays)\n"
		"\tlist-lu                  list the LUs\n\n"
		"LUs are named by a GUID (an NAA id 600144F0...); they are stored in\n"
		"$TARN_HOME/stmf.conf and served by tarnd over iSCSI once a view (stmfadm add-view)\n"
		"shows them to initiators. A volume that is an LU cannot be destroyed, renamed,\n"
		"rolled back or received into. See also stmfadm --help, itadm --help.\n",
		prog);
}

static void lu_header(void)
{
	fprintf(cli_out, "\n\t      GUID                    DATA SIZE           SOURCE\n"
			 "--------------------------------  -------------------  ----------------\n");
}

static void lu_row(const stmf_lu_t *lu)
{
	comstar_lu_state_t st;
	comstar_lu_state(lu->dataset, &st);
	char low[STMF_GUID_LEN + 1];
	for (int i = 0; i <= STMF_GUID_LEN; i++) /* sbdadm prints GUIDs in lower case */
		low[i] = (char)(lu->guid[i] >= 'A' && lu->guid[i] <= 'F' ? lu->guid[i] + 32 : lu->guid[i]);
	fprintf(cli_out, "%s  %-19llu  /dev/zvol/rdsk/%s\n", low, (unsigned long long)st.size, lu->dataset);
}

/* Check the volume (with its pool open, so that it cannot be destroyed meanwhile) and add the
 * LU. *guid gets the new GUID. */
int comstar_create_lu(const char *prog, const char *path, char **props, int nprops, char guid[STMF_GUID_LEN + 1])
{
	char ds[STMF_DATASET_MAX];
	if (stmf_parse_zvol_path(path, ds, sizeof(ds)) < 0)
		return comstar_fail(prog, NULL);
	cli_pool_t cp;
	if (cli_open_for(ds, &cp) < 0) {
		fprintf(cli_err, "%s: %s: %s\n", prog, path, terr_msg());
		return 1;
	}
	dsl_ds_t *d = dsl_lookup(cp.dsl, ds);
	dsl_ds_t *head = d && d->type == DS_SNAPSHOT ? dsl_by_id(cp.dsl, d->parent) : d;
	int rc = 0;
	if (!d)
		rc = terr(ENOENT, "%s: dataset does not exist", path);
	else if (!head || head->type != DS_VOLUME || d->type == DS_BOOKMARK)
		rc = terr(EINVAL, "%s: not a volume", path);
	else if (d->flags & DSF_INCONSISTENT)
		rc = terr(EBUSY, "%s: dataset is busy (being received)", path);
	stmf_txn_t t;
	if (rc < 0 || comstar_begin(prog, &t)) {
		cli_close(&cp, 0);
		return rc < 0 ? comstar_fail(prog, NULL) : 1;
	}
	stmf_lu_t *lu;
	rc = stmf_lu_add(&t.m, ds, NULL, &lu);
	for (int i = 0; rc == 0 && i < nprops; i++) {
		char *eq = strchr(props[i], '=');
		if (!eq) {
			rc = terr(EINVAL, "%s: property=value expected", props[i]);
			break;
		}
		*eq = 0;
		rc = stmf_lu_set(&t.m, lu, props[i], eq + 1);
		*eq = '=';
	}
	if (rc == 0)
		memcpy(guid, lu->guid, STMF_GUID_LEN + 1);
	if (rc < 0) {
		cli_close(&cp, 0);
		return comstar_fail(prog, &t);
	}
	/* saved with the pool still open (no destroy in between); tarnd holds the new LU once
	 * the pool is free again */
	rc = stmf_commit(&t);
	if (rc < 0)
		fprintf(cli_err, "%s: %s\n", prog, terr_msg());
	cli_close(&cp, 0);
	if (rc == 0 && cli_in_daemon())
		daemon_iscsi_changed();
	return rc < 0 ? 1 : 0;
}

static int sbd_create(const char *prog, int argc, char **argv)
{
	int c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "s:", NULL, NULL)) != -1) {
		if (c == 's') {
			fprintf(cli_err, "%s: -s: the LU size is the volume's: use zfs set volsize\n", prog);
			return 1;
		}
		return comstar_usage(prog, NULL);
	}
	if (argc - opt_ind != 1)
		return comstar_usage(prog, argc - opt_ind < 1 ? "create-lu: missing lu file" : "create-lu: too many operands");
	char guid[STMF_GUID_LEN + 1];
	if (comstar_create_lu(prog, argv[opt_ind], NULL, 0, guid))
		return 1;
	stmf_t m;
	if (comstar_load(prog, &m))
		return 1;
	const stmf_lu_t *lu = stmf_lu_find(&m, guid);
	fprintf(cli_out, "Created the following LU:\n");
	lu_header();
	if (lu)
		lu_row(lu);
	stmf_free(&m);
	return 0;
}

static int sbd_delete(const char *prog, int argc, char **argv)
{
	int c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "k", NULL, NULL)) != -1) {
		if (c == 'k') {
			fprintf(cli_err, "%s: -k: keeping view entries without their LU is not supported\n", prog);
			return 1;
		}
		return comstar_usage(prog, NULL);
	}
	if (argc - opt_ind < 1)
		return comstar_usage(prog, "delete-lu: missing GUID");
	int ret = 0;
	for (int i = opt_ind; i < argc; i++) {
		char guid[STMF_GUID_LEN + 1];
		if (stmf_parse_guid(argv[i], guid) < 0) {
			ret = comstar_fail(prog, NULL);
			continue;
		}
		stmf_txn_t t;
		if (comstar_begin(prog, &t))
			return 1;
		if (stmf_lu_delete(&t.m, guid) < 0)
			ret = comstar_fail(prog, &t);
		else if (comstar_commit(prog, &t))
			ret = 1;
	}
	return ret;
}

static int sbd_list(const char *prog, int argc, char **argv)
{
	if (argc > 1)
		return comstar_usage(prog, "list-lu: no operands expected");
	stmf_t m;
	if (comstar_load(prog, &m))
		return 1;
	if (m.nlu) {
		fprintf(cli_out, "\nFound %zu LU(s)\n", m.nlu);
		lu_header();
		for (size_t i = 0; i < m.nlu; i++)
			lu_row(&m.lu[i]);
	}
	stmf_free(&m);
	return 0;
}

int sbdadm_has(const char *sub)
{
	return !strcmp(sub, "create-lu") || !strcmp(sub, "delete-lu");
}

int sbdadm_main(const char *prog, int argc, char **argv)
{
	if (argc < 2) {
		sbdadm_usage(cli_err, prog);
		return 2;
	}
	if (cli_wants_help(argc - 1, argv + 1) || !strcmp(argv[1], "-h")) {
		sbdadm_usage(cli_out, prog);
		return 0;
	}
	if (!strcmp(argv[1], "create-lu"))
		return sbd_create(prog, argc - 1, argv + 1);
	if (!strcmp(argv[1], "delete-lu"))
		return sbd_delete(prog, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list-lu"))
		return sbd_list(prog, argc - 1, argv + 1);
	if (!strcmp(argv[1], "modify-lu") || !strcmp(argv[1], "import-lu")) {
		fprintf(cli_err, "%s: %s: not supported (an LU is as large as its volume: zfs set volsize)\n", prog,
			argv[1]);
		return 1;
	}
	fprintf(cli_err, "%s: %s: unknown subcommand\n", prog, argv[1]);
	sbdadm_usage(cli_err, prog);
	return 2;
}

int cmd_sbdadm(int argc, char **argv) { return sbdadm_main("sbdadm", argc, argv); }

/* ---- tarn iscsi ---- */

static void iscsi_usage(FILE *f)
{
	fprintf(f, "usage: tarn iscsi <subcommand> [args]\n"
		   "       tarn iscsi sbdadm|stmfadm|itadm <subcommand> [args]\n\n"
		   "iSCSI logical units over volumes, managed the COMSTAR way. The same commands answer\n"
		   "as `sbdadm`, `stmfadm` and `itadm` (symlinks to tarn, installed by make install).\n"
		   "Every subcommand of the three is available by name:\n\n"
		   "  logical units (sbdadm):\n"
		   "\tcreate-lu /dev/zvol/rdsk/POOL/VOL[@SNAP]      delete-lu GUID\n"
		   "  logical units, groups and views (stmfadm):\n"
		   "\tlist-lu [-v] [GUID]...      modify-lu -p wcd=true|false|alias=TEXT|serial=TEXT GUID\n"
		   "\tcreate-tg NAME              delete-tg NAME       list-tg [-v] [NAME]...\n"
		   "\tadd-tg-member -g NAME IQN...                    remove-tg-member -g NAME IQN...\n"
		   "\tcreate-hg NAME              delete-hg NAME       list-hg [-v] [NAME]...\n"
		   "\tadd-hg-member -g NAME IQN...                    remove-hg-member -g NAME IQN...\n"
		   "\tadd-view [-h HG] [-t TG] [-n LUN] GUID         list-view -l GUID [ENTRY]...\n"
		   "\tremove-view -l GUID (-a | ENTRY...)\n"
		   "  targets (itadm):\n"
		   "\tcreate-target [-n IQN] [-l ALIAS] [-a chap|none] [-u USER] [-s] [-m] [-U USER]\n"
		   "\tmodify-target [same options] [-M] IQN          delete-target [-f] IQN\n"
		   "\tlist-target [-v] [IQN]...\n\n"
		   "`list-lu` is stmfadm's, `list-target` itadm's (`tarn iscsi stmfadm list-target`\n"
		   "for stmfadm's). Each tool has its own help: `tarn iscsi stmfadm --help`, ...\n"
		   "Configuration: $TARN_HOME/stmf.conf (mode 0600: it holds CHAP secrets).\n");
}

int cmd_iscsi(int argc, char **argv)
{
	if (argc < 2) {
		iscsi_usage(cli_err);
		return 2;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-?") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		iscsi_usage(cli_out);
		return 0;
	}
	if (!strcmp(sub, "sbdadm"))
		return sbdadm_main("tarn iscsi sbdadm", argc - 1, argv + 1);
	if (!strcmp(sub, "stmfadm"))
		return stmfadm_main("tarn iscsi stmfadm", argc - 1, argv + 1);
	if (!strcmp(sub, "itadm"))
		return itadm_main("tarn iscsi itadm", argc - 1, argv + 1);
	if (sbdadm_has(sub))
		return sbdadm_main("tarn iscsi", argc, argv);
	if (itadm_has(sub))
		return itadm_main("tarn iscsi", argc, argv);
	return stmfadm_main("tarn iscsi", argc, argv);
}
