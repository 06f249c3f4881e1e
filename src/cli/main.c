/* cli/main.c — entry point: hand the command line to tarnd when one runs for this state
 * directory (TARN_HOME), else run it here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "daemon/daemon.h"
#include "tree/tree.h"
#include "util/err.h"
#include "util/strnum.h"

/* `tarn daemon ...` itself, `tarn backup ...`, and TARN_NO_DAEMON=1 never go to a daemon. */
static int for_daemon(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	/* a backup run is a process of its own (its zfs commands go to tarnd one by one) */
	if (argc >= 2 && (!strcmp(argv[1], "daemon") || !strcmp(argv[1], "backup")) && strcmp(base, "zfs") &&
	    strcmp(base, "zpool"))
		return 0;
	const char *no = getenv("TARN_NO_DAEMON");
	return !(no && *no && strcmp(no, "0"));
}

/* TARN_CACHE_SIZE: the indirect-block cache budget of this process (tree_set_cache_size). */
static void cache_size_from_env(void)
{
	const char *e = getenv("TARN_CACHE_SIZE");
	uint64_t v;
	if (!e || !*e)
		return;
	if (parse_size(e, &v) < 0 || v < (1u << 20)) {
		terr_clear();
		fprintf(stderr, "tarn: ignoring TARN_CACHE_SIZE='%s' (a size of at least 1M)\n", e);
		return;
	}
	tree_set_cache_size(v);
}

int main(int argc, char **argv)
{
	cache_size_from_env();
	if (argc >= 1 && for_daemon(argc, argv)) {
		cli_iscsi_forward_secrets(argc, argv); /* tarnd does not see our environment */
		int rc = daemon_forward(argc, argv);
		if (rc >= 0)
			return rc;
		if (rc != -ENOENT) {
			fprintf(stderr, "tarn: %s\n", terr_msg());
			return 1;
		}
	}
	return tarn_dispatch(argc, argv);
}
