/* cli/cli.h — shared pieces of the command line: opening pools the host knows, error output,
 * table printing. Commands print; storage layers don't. Exit status: 0 ok, 1 operation
 * failed, 2 usage error (as zfs/zpool). */
#ifndef TARN_CLI_CLI_H
#define TARN_CLI_CLI_H

#include <stdio.h>

#include "dsl/dsl.h"
#include "pool/pool.h"
#include "util/opt.h"

/* A command's standard streams. Standalone they are the process's own; when tarnd runs a
 * command for a caller they are the caller's descriptors, per thread (cli_set_stdio). Commands
 * use cli_in/cli_out/cli_err, never stdin/stdout/stderr, and parse options with
 * opt_getopt_long (per-thread state). */
extern __thread FILE *cli_in_, *cli_out_, *cli_err_;
#define cli_in (cli_in_ ? cli_in_ : stdin)
#define cli_out (cli_out_ ? cli_out_ : stdout)
#define cli_err (cli_err_ ? cli_err_ : stderr)
/* Point this thread's commands at in/out/err (NULL: back to the process's own). */
void cli_set_stdio(FILE *in, FILE *out, FILE *err);

/* An imported pool opened for one command. */
typedef struct cli_pool {
	pool_t *pool;
	dsl_t *dsl;
	struct daemon_pool *host; /* under tarnd: the daemon's pool, locked until cli_close */
	int rw;
	uint64_t changes;         /* dsl changes when opened (tarnd: did a failure change anything?) */
} cli_pool_t;

/* Open the known pool `name`; prints nothing, sets terr on failure. */
int cli_open(const char *name, cli_pool_t *cp);
/* Open the pool named by the first component of a dataset name. */
int cli_open_for(const char *dsname, cli_pool_t *cp);
/* The same, read-only: no lock, nothing committed (listings, reads, sends). */
int cli_open_ro(const char *name, cli_pool_t *cp);
int cli_open_for_ro(const char *dsname, cli_pool_t *cp);
/* The command line being run, as it goes into the pool history ("zfs snapshot p/v@1"). */
extern __thread char cli_history_line[4096];
void cli_set_history(const char *personality, int argc, char **argv);

/* Commit (if commit) and close. A commit also records cli_history_line in the pool history. Also persists error counters seen by this command. */
int cli_close(cli_pool_t *cp, int commit);
/* zpool export/destroy: take the opened pool out of tarnd's hands (its NBD clients are
 * disconnected); afterwards cp->pool and cp->dsl belong to the caller. -EBUSY when other
 * commands are using it. Standalone: nothing to do. */
int cli_take_pool(cli_pool_t *cp);
/* A pool was created or imported: under tarnd, hold it from now on (its volumes get exported). */
void cli_pool_added(const char *name);
/* The stream FILE of send (mode "w") or receive ("r"): under tarnd one that lets other work on
 * the pool go on while the command waits on its pipe. Close with cli_stream_close. */
FILE *cli_stream_open(cli_pool_t *cp, const char *mode);
void cli_stream_close(FILE *f);
/* Is this command running inside tarnd? */
int cli_in_daemon(void);

/* All known pools' names (sorted). Caller frees each and the array. */
int cli_known_names(char ***names, int *n);

/* Does the command line ask for help (-?, --help, or "help" as the command)? */
int cli_wants_help(int argc, char **argv);

/* End a modifying command: commit and close when rc >= 0, else close without committing; on
 * any failure print "cannot <what>: <reason>". Returns the exit status (0 or 1). */
int cli_finish(cli_pool_t *cp, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "cannot <what>: <terr_msg>" on stderr; returns 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Simple table: add rows of cells, then print with zfs-style alignment (or -H tabs). */
typedef struct table {
	int ncols;
	char **hdr;
	int *right; /* right-align column */
	char ***rows;
	int nrows, cap;
} table_t;
void table_init(table_t *t, int ncols, const char *const *hdr, const int *right);
void table_add(table_t *t, const char *const *cells);
void table_print(table_t *t, FILE *f, int scripted, int header);
void table_free(table_t *t);

int cmd_zfs(int argc, char **argv);
int cmd_zpool(int argc, char **argv);
int cmd_volume(int argc, char **argv);
int cmd_backup(int argc, char **argv); /* cli/backup.c */
int cmd_send(int argc, char **argv);
int cmd_receive(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
/* COMSTAR (cli/comstar.c, stmfadm.c, itadm.c): personalities sbdadm, stmfadm, itadm and
 * `tarn iscsi ...`. */
int cmd_sbdadm(int argc, char **argv);
int cmd_stmfadm(int argc, char **argv);
int cmd_itadm(int argc, char **argv);
int cmd_iscsi(int argc, char **argv);
/* The busy rule for iSCSI LUs, whether or not tarnd runs: 0 if dataset `name` is no LU (with
 * family: nor a dataset below it or a snapshot of either; a snapshot spec "vol@a,b" or
 * "vol@a%b" checks those snapshots); -EBUSY "dataset is busy (...)" if it is one, or when
 * stmf.conf cannot be read. Called where zfs destroy/rename/rollback/receive resolve their
 * dataset. */
int cli_lu_busy(const char *name, int family);
/* main, before forwarding a command line to tarnd (which does not see this environment): an
 * itadm command that reads CHAP secrets gets TARN_CHAP_SECRET / TARN_CHAP_MUTUAL_SECRET
 * through its stdin instead. */
void cli_iscsi_forward_secrets(int argc, char **argv);
/* Run one command line (what main does after trying tarnd). */
int tarn_dispatch(int argc, char **argv);

#endif
