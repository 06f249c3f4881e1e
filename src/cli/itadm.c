/* cli/itadm.c — `itadm`: iSCSI targets and their CHAP settings. Secrets come from the
 * environment (TARN_CHAP_SECRET, TARN_CHAP_MUTUAL_SECRET), a prompt on a terminal, or a line
 * of standard input each; they are stored in stmf.conf (mode 0600) and never printed. */
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/comstar.h"
#include "daemon/daemon.h"
#include "util/err.h"

#define ENV_SECRET "TARN_CHAP_SECRET"
#define ENV_MUTUAL "TARN_CHAP_MUTUAL_SECRET"

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s <subcommand> [args]\n\n"
		"\tcreate-target [-n IQN] [-l ALIAS] [-a chap|none] [-u USER] [-s] [-U USER] [-m]\n"
		"\tmodify-target [-l ALIAS] [-a chap|none] [-u USER] [-s] [-U USER] [-m] [-M] IQN\n"
		"\tdelete-target [-f] IQN\n"
		"\tlist-target [-v] [IQN]...\n\n"
		"options:\n"
		"\t-n, --node-name IQN      the target's name (default: a new\n"
		"\t                         iqn.2010-09.org.tarn:<uuid>); iqn., eui. and naa. forms\n"
		"\t-l, --alias ALIAS        the target's alias\n"
		"\t-a, --auth-method M      chap: initiators must log in with CHAP; none (default)\n"
		"\t-u, --chap-user USER     the CHAP name initiators use (default: their node name)\n"
		"\t-s, --chap-secret        set the CHAP secret initiators use (12..255 characters)\n"
		"\t-U, --mutual-user USER   the target's own CHAP name for mutual CHAP (default: its IQN)\n"
		"\t-m, --mutual-secret      set the target's secret: initiators authenticate the target\n"
		"\t-M, --no-mutual          remove the target's secret (one-way CHAP)\n"
		"\t-f, --force              delete a target even while initiators use it\n"
		"\t-v, --verbose            list the target's settings (secrets show as set or unset)\n\n"
		"Secrets are read from " ENV_SECRET " and " ENV_MUTUAL " if set, else\n"
		"prompted for on a terminal, else read as one line each from standard input (-s first).\n"
		"They are stored in $TARN_HOME/stmf.conf (mode 0600) and never printed.\n",
		prog);
}

int itadm_has(const char *sub)
{
	return !strcmp(sub, "create-target") || !strcmp(sub, "modify-target") || !strcmp(sub, "delete-target") ||
	       !strcmp(sub, "list-target");
}

/* One line from cli_in without its newline; 0, or -1 at EOF. */
static int read_line(char *buf, size_t len)
{
	if (!fgets(buf, (int)len, cli_in))
		return -1;
	buf[strcspn(buf, "\r\n")] = 0;
	return 0;
}

static int prompt(const char *what, char *buf, size_t len)
{
	int fd = fileno(cli_in);
	struct termios old, quiet;
	int tty = tcgetattr(fd, &old) == 0;
	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	fprintf(cli_err, "Enter %s: ", what);
	fflush(cli_err);
	int rc = read_line(buf, len);
	fprintf(cli_err, "\n");
	if (tty)
		tcsetattr(fd, TCSAFLUSH, &old);
	return rc;
}

/* The secret for -s (env ENV_SECRET) or -m (ENV_MUTUAL) into buf (>= 512 bytes). */
static int read_secret(const char *env, const char *what, char *buf, size_t len)
{
	const char *e = cli_in_daemon() ? NULL : getenv(env); /* tarnd: main passed it as stdin */
	if (e && *e) {
		snprintf(buf, len, "%s", e);
	} else if (isatty(fileno(cli_in))) {
		char again[512];
		if (prompt(what, buf, len) < 0 || prompt("it again", again, sizeof(again)) < 0)
			return terr(EINVAL, "no %s entered", what);
		int same = !strcmp(buf, again);
		explicit_bzero(again, sizeof(again));
		if (!same)
			return terr(EINVAL, "the %ss do not match", what);
	} else if (read_line(buf, len) < 0) {
		return terr(EINVAL, "no %s on standard input (or set %s)", what, env);
	}
	return stmf_check_secret(buf);
}

struct topts {
	const char *name, *alias, *auth, *user, *muser;
	int secret, mutual, no_mutual, force;
};

static int parse_topts(const char *prog, int argc, char **argv, struct topts *o, int create)
{
	static const struct option lo[] = { { "node-name", required_argument, 0, 'n' },
					    { "alias", required_argument, 0, 'l' },
					    { "auth-method", required_argument, 0, 'a' },
					    { "chap-user", required_argument, 0, 'u' },
					    { "chap-secret", no_argument, 0, 's' },
					    { "mutual-user", required_argument, 0, 'U' },
					    { "mutual-secret", no_argument, 0, 'm' },
					    { "no-mutual", no_argument, 0, 'M' },
					    { "tpg", required_argument, 0, 't' },
					    { 0, 0, 0, 0 } };
	int c;
	memset(o, 0, sizeof(*o));
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, create ? "n:l:a:u:sU:mt:" : "l:a:u:sU:mMt:", lo, NULL)) != -1) {
		switch (c) {
		case 'n': o->name = opt_arg; break;
		case 'l': o->alias = opt_arg; break;
		case 'u': o->user = opt_arg; break;
		case 'U': o->muser = opt_arg; break;
		case 's': o->secret = 1; break;
		case 'm': o->mutual = 1; break;
		case 'M': o->no_mutual = 1; break;
		case 'a':
			if (strcmp(opt_arg, "chap") && strcmp(opt_arg, "none") && strcmp(opt_arg, "default")) {
				fprintf(cli_err, "%s: %s: invalid authentication method (chap or none)\n", prog, opt_arg);
				return 1;
			}
			o->auth = opt_arg;
			break;
		case 't':
			if (strcmp(opt_arg, "default")) {
				fprintf(cli_err, "%s: %s: target portal groups are not supported (default only)\n", prog,
					opt_arg);
				return 1;
			}
			break;
		default: return comstar_usage(prog, NULL);
		}
	}
	if (o->mutual && o->no_mutual)
		return comstar_usage(prog, "-m and -M exclude each other");
	return 0;
}

/* Apply the options to target t (in a transaction). */
static int apply(stmf_target_t *t, const struct topts *o)
{
	char secret[512], mutual[512];
	int rc = 0;
	if (o->alias)
		rc = stmf_check_text("alias", o->alias, STMF_NAME_MAX);
	if (rc == 0 && o->user)
		rc = stmf_check_text("CHAP user", o->user, STMF_NAME_MAX);
	if (rc == 0 && o->muser)
		rc = stmf_check_text("CHAP user", o->muser, STMF_NAME_MAX);
	if (rc == 0 && o->user && !*o->user)
		rc = terr(EINVAL, "empty CHAP user");
	secret[0] = mutual[0] = 0;
	if (rc == 0 && o->secret)
		rc = read_secret(ENV_SECRET, "CHAP secret", secret, sizeof(secret));
	if (rc == 0 && o->mutual)
		rc = read_secret(ENV_MUTUAL, "target CHAP secret", mutual, sizeof(mutual));
	int chap = o->auth ? !strcmp(o->auth, "chap") : t->auth == STMF_AUTH_CHAP;
	if (rc == 0 && chap && !o->secret && !t->chap_secret)
		rc = terr(EINVAL, "CHAP authentication needs a CHAP secret (-s)");
	if (rc == 0 && o->alias)
		rc = stmf_set_str(&t->alias, *o->alias ? o->alias : NULL);
	if (rc == 0 && o->user)
		rc = stmf_set_str(&t->chap_user, o->user);
	if (rc == 0 && o->muser)
		rc = stmf_set_str(&t->mutual_user, *o->muser ? o->muser : NULL);
	if (rc == 0 && o->secret)
		rc = stmf_set_str(&t->chap_secret, secret);
	if (rc == 0 && o->mutual)
		rc = stmf_set_str(&t->mutual_secret, mutual);
	if (rc == 0 && o->no_mutual)
		rc = stmf_set_str(&t->mutual_secret, NULL);
	if (rc == 0)
		t->auth = chap ? STMF_AUTH_CHAP : STMF_AUTH_NONE;
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(mutual, sizeof(mutual));
	return rc;
}

static int create_target(const char *prog, int argc, char **argv)
{
	struct topts o;
	int rc = parse_topts(prog, argc, argv, &o, 1);
	if (rc)
		return rc;
	if (opt_ind < argc)
		return comstar_usage(prog, "create-target: unexpected operand (the name goes with -n)");
	stmf_txn_t t;
	if (comstar_begin(prog, &t))
		return 1;
	stmf_target_t *tg;
	char iqn[STMF_IQN_MAX + 1];
	if (stmf_target_add(&t.m, o.name, &tg) < 0 || apply(tg, &o) < 0)
		return comstar_fail(prog, &t);
	snprintf(iqn, sizeof(iqn), "%s", tg->iqn);
	if (comstar_commit(prog, &t))
		return 1;
	fprintf(cli_out, "Target %s successfully created\n", iqn);
	return 0;
}

static int modify_target(const char *prog, int argc, char **argv)
{
	struct topts o;
	int rc = parse_topts(prog, argc, argv, &o, 0);
	if (rc)
		return rc;
	if (argc - opt_ind != 1)
		return comstar_usage(prog, argc - opt_ind < 1 ? "modify-target: missing target name" : "too many operands");
	stmf_txn_t t;
	if (comstar_begin(prog, &t))
		return 1;
	stmf_target_t *tg = stmf_target_find(&t.m, argv[opt_ind]);
	if (!tg) {
		terr(ENOENT, "%s: not found", argv[opt_ind]);
		return comstar_fail(prog, &t);
	}
	if (apply(tg, &o) < 0)
		return comstar_fail(prog, &t);
	if (comstar_commit(prog, &t))
		return 1;
	fprintf(cli_out, "Target %s successfully modified\n", argv[opt_ind]);
	return 0;
}

static int delete_target(const char *prog, int argc, char **argv)
{
	static const struct option lo[] = { { "force", no_argument, 0, 'f' }, { 0, 0, 0, 0 } };
	int force = 0, c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "f", lo, NULL)) != -1) {
		if (c != 'f')
			return comstar_usage(prog, NULL);
		force = 1;
	}
	if (argc - opt_ind != 1)
		return comstar_usage(prog, argc - opt_ind < 1 ? "delete-target: missing target name" : "too many operands");
	const char *iqn = argv[opt_ind];
	int sessions = cli_in_daemon() ? daemon_iscsi_sessions(iqn) : 0;
	if (sessions > 0 && !force) {
		fprintf(cli_err, "%s: %s: target is in use by %d initiator(s) (use -f)\n", prog, iqn, sessions);
		return 1;
	}
	stmf_txn_t t;
	if (comstar_begin(prog, &t))
		return 1;
	if (stmf_target_delete(&t.m, iqn) < 0)
		return comstar_fail(prog, &t);
	return comstar_commit(prog, &t);
}

static int list_target(const char *prog, int argc, char **argv)
{
	static const struct option lo[] = { { "verbose", no_argument, 0, 'v' }, { 0, 0, 0, 0 } };
	int verbose = 0, c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "v", lo, NULL)) != -1) {
		if (c != 'v')
			return comstar_usage(prog, NULL);
		verbose = 1;
	}
	stmf_t m;
	if (comstar_load(prog, &m))
		return 1;
	int ret = 0, header = 0;
	for (size_t k = 0; k < m.ntgt; k++) {
		const stmf_target_t *t = &m.tgt[k];
		int want = opt_ind == argc;
		for (int i = opt_ind; i < argc && !want; i++)
			want = stmf_target_find(&m, argv[i]) == t;
		if (!want)
			continue;
		if (!header++)
			fprintf(cli_out, "%-61s%-9s%s\n", "TARGET NAME", "STATE", "SESSIONS");
		fprintf(cli_out, "%-61s%-9s%d\n", t->iqn, "online", cli_in_daemon() ? daemon_iscsi_sessions(t->iqn) : 0);
		if (!verbose)
			continue;
		fprintf(cli_out, "\t%-24s%s\n", "alias:", t->alias ? t->alias : "-");
		fprintf(cli_out, "\t%-24s%s\n", "auth:", t->auth == STMF_AUTH_CHAP ? "chap" : "none");
		fprintf(cli_out, "\t%-24s%s\n", "chapuser:", t->chap_user ? t->chap_user : "-");
		fprintf(cli_out, "\t%-24s%s\n", "chapsecret:", t->chap_secret ? "set" : "unset");
		fprintf(cli_out, "\t%-24s%s\n", "targetchapuser:", t->mutual_user ? t->mutual_user : "-");
		fprintf(cli_out, "\t%-24s%s\n", "targetchapsecret:", t->mutual_secret ? "set" : "unset");
		fprintf(cli_out, "\t%-24s%s\n", "tpg-tags:", "default");
	}
	for (int i = opt_ind; i < argc; i++)
		if (!stmf_target_find(&m, argv[i])) {
			fprintf(cli_err, "%s: %s: not found\n", prog, argv[i]);
			ret = 1;
		}
	stmf_free(&m);
	return ret;
}

int itadm_main(const char *prog, int argc, char **argv)
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
	if (!strcmp(s, "create-target"))
		return create_target(prog, argc - 1, argv + 1);
	if (!strcmp(s, "modify-target"))
		return modify_target(prog, argc - 1, argv + 1);
	if (!strcmp(s, "delete-target"))
		return delete_target(prog, argc - 1, argv + 1);
	if (!strcmp(s, "list-target"))
		return list_target(prog, argc - 1, argv + 1);
	if (strstr(s, "-tpg") || strstr(s, "-initiator") || strstr(s, "-defaults")) {
		fprintf(cli_err, "%s: %s: not supported (CHAP is set per target: itadm modify-target)\n", prog, s);
		return 1;
	}
	fprintf(cli_err, "%s: %s: unknown subcommand\n", prog, s);
	usage(cli_err, prog);
	return 2;
}

int cmd_itadm(int argc, char **argv) { return itadm_main("itadm", argc, argv); }

void cli_iscsi_forward_secrets(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (strcmp(base, "itadm") && !(argc >= 2 && !strcmp(argv[1], "iscsi")))
		return;
	int want_s = 0, want_m = 0;
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		want_s |= !strcmp(argv[i], "-s") || !strcmp(argv[i], "--chap-secret");
		want_m |= !strcmp(argv[i], "-m") || !strcmp(argv[i], "--mutual-secret");
	}
	const char *s = getenv(ENV_SECRET), *m = getenv(ENV_MUTUAL);
	if ((!want_s && !want_m) || (want_s && !(s && *s)) || (want_m && !(m && *m)))
		return;
	int p[2];
	if (pipe(p) < 0)
		return;
	/* a pipe holds 64 KiB: two secrets of at most 255 bytes fit before anyone reads */
	if (want_s)
		dprintf(p[1], "%.300s\n", s);
	if (want_m)
		dprintf(p[1], "%.300s\n", m);
	close(p[1]);
	dup2(p[0], 0);
	close(p[0]);
}
