/* cli/daemoncmd.c — `tarn daemon`: options and help of tarnd (the daemon itself is daemon/). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "daemon/daemon.h"
#include "tree/tree.h"
#include "util/err.h"
#include "util/strnum.h"

static void daemon_usage(FILE *f)
{
	fprintf(f,
		"usage: tarn daemon [--pidfile FILE] [--listen ADDR:PORT|PATH]... [--no-nbd]\n"
		"                   [--iscsi-portal ADDR:PORT] [--no-iscsi]\n"
		"                   [--syslog] [--txg-timeout SECONDS] [--cache-size SIZE]\n\n"
		"Run tarnd in the foreground: it imports the pools in $TARN_HOME/pools.cache, holds\n"
		"them, commits their transaction groups in the background, serves volumes over NBD and\n"
		"runs every tarn/zfs/zpool command started while it runs (commands find it through\n"
		"the control socket $TARN_HOME/tarnd.sock, mode 0600, and pass it their arguments and\n"
		"their stdin/stdout/stderr). Without tarnd, commands open the pools themselves.\n"
		"Only one tarnd runs per state directory. SIGTERM or SIGINT: stop accepting work,\n"
		"disconnect NBD clients, let running commands end, commit and close every pool.\n\n"
		"options:\n"
		"\t--pidfile FILE      write the daemon's pid to FILE (removed at exit)\n"
		"\t--listen ADDR:PORT  NBD listener (repeatable): an IPv4/IPv6 address and port,\n"
		"\t                    or a Unix socket path (anything containing '/').\n"
		"\t                    Default 127.0.0.1:10809.\n"
		"\t--no-nbd            no NBD listener\n"
		"\t--iscsi-portal ADDR:PORT\n"
		"\t                    iSCSI portal (default 127.0.0.1:3260)\n"
		"\t--no-iscsi          no iSCSI listener (LUs are still held busy)\n"
		"\t--syslog            log to syslog (facility daemon) instead of stderr\n"
		"\t--txg-timeout N     seconds between background commits (default 5)\n"
		"\t--cache-size SIZE   memory for cached indirect blocks of all volumes (default\n"
		"\t                    64M, or $TARN_CACHE_SIZE): a random read of a volume whose\n"
		"\t                    block tree fits costs one disk read. About 1/200 of the\n"
		"\t                    volume size at volblocksize 16K, 1/50 at 4K.\n\n"
		"NBD exports: every volume whose `sharenbd` property is on (read-write) or ro\n"
		"(read-only); the export name is the dataset name (pool/vol), and the snapshots of an\n"
		"exported volume are exported read-only as pool/vol@snap. Changing sharenbd takes\n"
		"effect at once; clients of an export that goes away are disconnected. An exported\n"
		"volume cannot be destroyed, renamed, rolled back or received into (dataset is busy).\n"
		"FLUSH and FUA return after a transaction group commit. Written data is also\n"
		"committed every --txg-timeout seconds and as soon as half of TARN_DIRTY_MAX\n"
		"(default 64M) is buffered; reads and writes go on while a commit writes (writers\n"
		"wait only when TARN_DIRTY_MAX is reached). Meta contexts:\n"
		"base:allocation, and tarn:changed:SNAP (extents written since snapshot SNAP).\n\n"
		"examples:\n"
		"\ttarn daemon --pidfile /run/tarnd.pid\n"
		"\tzfs set sharenbd=on data/vm\n"
		"\tqemu-img info nbd://127.0.0.1/data/vm\n"
		"\tnbdinfo --map=tarn:changed:monday nbd://127.0.0.1/data/vm\n\n"
		"iSCSI: the logical units, targets, groups and views of sbdadm/stmfadm/itadm\n"
		"($TARN_HOME/stmf.conf, see `tarn iscsi --help`); tarnd re-reads the file when it\n"
		"changes (at once after its own commands, else within --txg-timeout seconds or on\n"
		"SIGHUP). A volume that is an LU cannot be destroyed, renamed, rolled back or\n"
		"received into.\n");
}

int cmd_daemon(int argc, char **argv)
{
	static const struct option opts[] = { { "pidfile", required_argument, 0, 'p' },
					       { "listen", required_argument, 0, 'l' },
					       { "no-nbd", no_argument, 0, 'N' },
					       { "iscsi-portal", required_argument, 0, 'I' },
					       { "no-iscsi", no_argument, 0, 'X' },
					       { "syslog", no_argument, 0, 's' },
					       { "txg-timeout", required_argument, 0, 't' },
					       { "cache-size", required_argument, 0, 'c' },
					       { "help", no_argument, 0, 'h' },
					       { 0, 0, 0, 0 } };
	daemon_opts_t o = { .dispatch = tarn_dispatch, .txg_timeout = 5 };
	const char *listen[16];
	int nlisten = 0, no_nbd = 0, no_iscsi = 0, c;
	const char *portal = "127.0.0.1:3260";
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "h?", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o.pidfile = opt_arg;
			break;
		case 'l':
			if (nlisten == (int)(sizeof(listen) / sizeof(listen[0]))) {
				fprintf(cli_err, "tarn daemon: too many --listen options\n");
				return 2;
			}
			listen[nlisten++] = opt_arg;
			break;
		case 'N':
			no_nbd = 1;
			break;
		case 'I':
			if (!*opt_arg || strlen(opt_arg) > 300) {
				fprintf(cli_err, "tarn daemon: --iscsi-portal needs ADDR:PORT\n");
				return 2;
			}
			portal = opt_arg;
			break;
		case 'X':
			no_iscsi = 1;
			break;
		case 's':
			o.use_syslog = 1;
			break;
		case 't': {
			char *end;
			unsigned long v = strtoul(opt_arg, &end, 10);
			if (!*opt_arg || *end || v == 0 || v > 3600) {
				fprintf(cli_err, "tarn daemon: --txg-timeout must be 1..3600 seconds\n");
				return 2;
			}
			o.txg_timeout = (unsigned)v;
			break;
		}
		case 'c': {
			uint64_t v;
			if (parse_size(opt_arg, &v) < 0 || v < (1u << 20)) {
				terr_clear();
				fprintf(cli_err, "tarn daemon: --cache-size needs a size of at least 1M (e.g. 256M)\n");
				return 2;
			}
			tree_set_cache_size(v);
			break;
		}
		case 'h':
			daemon_usage(cli_out);
			return 0;
		default:
			daemon_usage(cli_err);
			return 2;
		}
	}
	if (opt_ind < argc) {
		fprintf(cli_err, "tarn daemon: unexpected argument '%s'\n", argv[opt_ind]);
		daemon_usage(cli_err);
		return 2;
	}
	if (!nlisten && !no_nbd)
		listen[nlisten++] = "127.0.0.1:10809";
	if (no_nbd)
		nlisten = 0;
	o.iscsi_portal = no_iscsi ? NULL : portal;
	o.listen = listen;
	o.nlisten = nlisten;
	return daemon_main(&o);
}
