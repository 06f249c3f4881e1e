/* cli/main.c — entry point: the `tarn` binary answers as zfs or zpool by argv[0], and as
 * `tarn zfs ...`, `tarn zpool ...`, `tarn volume ...`. */
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
		   "\t             backup jobs: VMs to a local or ssh destination, with retention\n\n"
		   "environment:\n"
		   "\tTARN_HOME    state directory holding pools.cache (default /var/lib/tarn)\n\n"
		   "Each command has its own help: `tarn zfs --help`, `tarn zpool --help`,\n"
		   "`tarn volume --help`, `tarn backup --help`.\n");
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (!strcmp(base, "zfs"))
		return cmd_zfs(argc, argv);
	if (!strcmp(base, "zpool"))
		return cmd_zpool(argc, argv);
	if (argc < 2) {
		usage(stderr);
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
	if (!strcmp(argv[1], "-?") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "unrecognized command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
