/* cli/dispatch.c — one command line to its command: the `tarn` binary answers as zfs, zpool,
 * sbdadm, stmfadm or itadm by argv[0], and as `tarn zfs ...`, `tarn zpool ...`,
 * `tarn volume ...`, `tarn iscsi ...`, `tarn daemon`. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: tarn <command> [args]\n\n"
		   "tarn is a copy-on-write block store with ZFS semantics: pools on files or block\n"
		   "devices, volumes, snapshots, clones, checksums and compression.\n\n"
		   "commands:\n"
		   "\tzpool ...    pool commands (also available as `zpool` via a symlink)\n"
		   "\tzfs ...      dataset commands (also available as `zfs` via a symlink)\n"
		   "\tvolume read|write ...\n"
		   "\t             read or write a volume's bytes from the shell\n"
		   "\tbackup run|status|list|restore ...\n"
		   "\t             backup jobs: VMs to a local or ssh destination, with retention\n"
		   "\tiscsi ...    iSCSI logical units, targets, groups and views, COMSTAR style\n"
		   "\t             (also `sbdadm`, `stmfadm`, `itadm` via symlinks)\n"
		   "\tdaemon ...   run tarnd: hold the pools, serve volumes over NBD, run\n"
		   "\t             commands for callers (see `tarn daemon --help`)\n\n"
		   "environment:\n"
		   "\tTARN_HOME    state directory holding pools.cache (default /var/lib/tarn)\n"
		   "\tTARN_NO_DAEMON=1\n"
		   "\t             run the command in this process even when tarnd runs\n\n"
		   "Each command has its own help: `tarn zfs --help`, `tarn zpool --help`,\n"
		   "`tarn volume --help`, `tarn backup --help`, `tarn iscsi --help`,\n"
		   "`tarn daemon --help`.\n");
}

int tarn_dispatch(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (!strcmp(base, "zfs"))
		return cmd_zfs(argc, argv);
	if (!strcmp(base, "zpool"))
		return cmd_zpool(argc, argv);
	if (!strcmp(base, "sbdadm"))
		return cmd_sbdadm(argc, argv);
	if (!strcmp(base, "stmfadm"))
		return cmd_stmfadm(argc, argv);
	if (!strcmp(base, "itadm"))
		return cmd_itadm(argc, argv);
	if (argc < 2) {
		usage(cli_err);
		return 2;
	}
	if (!strcmp(argv[1], "zfs"))
		return cmd_zfs(argc - 1, argv + 1);
	if (!strcmp(argv[1], "zpool"))
		return cmd_zpool(argc - 1, argv + 1);
	if (!strcmp(argv[1], "volume"))
		return cmd_volume(argc - 1, argv + 1);
	if (!strcmp(argv[1], "backup"))
		return cmd_backup(argc - 1, argv + 1);
	if (!strcmp(argv[1], "iscsi"))
		return cmd_iscsi(argc - 1, argv + 1);
	if (!strcmp(argv[1], "daemon")) {
		if (cli_in_daemon()) {
			fprintf(cli_err, "tarn daemon: tarnd is already running\n");
			return 1;
		}
		return cmd_daemon(argc - 1, argv + 1);
	}
	if (!strcmp(argv[1], "-?") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(cli_out);
		return 0;
	}
	fprintf(cli_err, "unrecognized command '%s'\n", argv[1]);
	usage(cli_err);
	return 2;
}
