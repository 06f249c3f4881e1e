/* backup/backup.h — backup jobs: VM groups backed up by snapshot + incremental send/receive to a
 * local or ssh destination, with retention, room check, verification, status files and mailed
 * reports.
 *
 * This layer never calls the storage layers: it drives tarn through its own command line
 * (`/proc/self/exe zfs ...`, or `ssh host tarn zfs ...` for a remote destination) as child
 * processes, so that the same code works with or without the daemon and across hosts. The send
 * stream passes through this process (counted, timed, shown as a progress bar on a terminal).
 *
 * Errors: 0 / -errno with terr() as everywhere. Functions that run a whole step record per-VM
 * errors in the result structures instead of failing.
 */
#ifndef TARN_BACKUP_BACKUP_H
#define TARN_BACKUP_BACKUP_H

#include <stdint.h>
#include <stdio.h>

#include "util/names.h"

#define BACKUP_JOB_NAME_MAX 64

/* ---- retention (retention.c) ---------------------------------------------------------------- */

/* keep-last N plus, per period, "the newest snapshot of each of the last N periods" (sanoid,
 * Proxmox Backup Server). All zero (and set == 0): keep everything. */
typedef struct backup_keep {
	unsigned last, hourly, daily, weekly, monthly, yearly;
	int set; /* a policy was given */
} backup_keep_t;

/* Parse "last=7,daily=14,weekly=4" (any subset, any order) or a bare "N" (= last=N) into *k.
 * -EINVAL with a message naming the bad part. */
int backup_keep_parse(const char *s, backup_keep_t *k);
/* Format a policy as backup_keep_parse reads it ("last=7,daily=14"; "all" when unset). */
void backup_keep_format(const backup_keep_t *k, char *buf, size_t len);

/* Decide which of n snapshots to keep. times[i]: creation (epoch seconds, UTC periods);
 * protect[i] != 0: must be kept (the newest common snapshot). Writes keep[i] = 1/0. Input order
 * does not matter; ties in time are broken by index (higher index = newer). Pure: no I/O. With
 * an unset policy every snapshot is kept. Returns the number of snapshots to prune. */
int backup_retention(const backup_keep_t *k, int n, const int64_t *times, const int *protect, int *keep);

/* ---- job configuration (config.c) ----------------------------------------------------------- */

enum backup_verify { BACKUP_VERIFY_GUID, BACKUP_VERIFY_FULL };
enum backup_mail_on { BACKUP_MAIL_ALWAYS, BACKUP_MAIL_FAILURE, BACKUP_MAIL_NEVER };
enum backup_tls { BACKUP_TLS_NONE, BACKUP_TLS_STARTTLS, BACKUP_TLS_SMTPS };
enum backup_auth { BACKUP_AUTH_NONE, BACKUP_AUTH_PLAIN, BACKUP_AUTH_LOGIN };

/* Where tarn runs: here (the binary of this process) or on an ssh host. */
typedef struct backup_side {
	int remote;
	char *user, *host; /* remote only; user may be NULL */
	unsigned port;     /* 0: ssh's default */
	char *ssh_key;     /* -i; may be NULL */
	char *ssh_options; /* extra ssh arguments, split at blanks; may be NULL */
	char *tarn;        /* the command that runs tarn: local binary path, or the remote shell words */
} backup_side_t;

typedef struct backup_job {
	char name[BACKUP_JOB_NAME_MAX];
	char vm_root[NAME_MAXLEN];
	char **vms; /* VM names, or NULL with all_vms */
	int nvms, all_vms;
	char dest[NAME_MAXLEN]; /* dataset on the destination side */
	backup_side_t dside;    /* destination side (source side is always local) */
	char *remote_tarn;      /* remote-tarn (default "tarn") */
	backup_keep_t keep_src, keep_dest;
	int keep_src_own, keep_dest_own; /* set by keep-source / keep-dest (keep does not override) */
	int verify;
	unsigned margin_pct;
	int rollback_dest; /* receive -F: discard changes made on the destination */
	char *pre_hook, *post_hook;
	char *prometheus_file;
	/* mail */
	char **mail_to;
	int nmail_to;
	char *mail_from;
	int mail_on;
	char *smtp_server;
	unsigned smtp_port; /* 0: 25, or 465 for smtps */
	int smtp_tls, smtp_auth;
	char *smtp_user, *smtp_password_file, *smtp_ca_file;
	/* which keys were given (for "required key missing") */
	int have_vm_root, have_vms, have_dest, have_name;
} backup_job_t;

/* Defaults: verify=guid, room-margin=10, mail-on=always, smtp-server=localhost, no retention. */
void backup_job_init(backup_job_t *j);
void backup_job_free(backup_job_t *j);
/* Set one key ("vm-root", "keep", ...; the job-file keys, which are also the --key=value flags).
 * -EINVAL "unknown key 'x'" or "bad value for 'x': why". */
int backup_job_set(backup_job_t *j, const char *key, const char *value);
/* Read a job file (INI, one [job] section; '#'/';' comments). Errors are "FILE:LINE: ..." (-EINVAL;
 * -errno when unreadable). The job name defaults to the file name without ".conf". */
int backup_job_load(backup_job_t *j, const char *path);
/* Check that the required keys are there and finish derived fields (the destination side). */
int backup_job_finish(backup_job_t *j);
/* Print the key reference (for --help). */
void backup_job_keys_help(FILE *f);

/* ---- paths (config.c) ----------------------------------------------------------------------- */

/* $TARN_JOB_DIR or /etc/tarn/jobs. */
const char *backup_job_dir(void);
/* $TARN_HOME/backup (created with mode 0755 when mk). */
int backup_state_dir(char *buf, size_t len, int mk);
/* The tarn binary this process runs children with: $TARN_BIN, else /proc/self/exe's target. */
const char *backup_tarn_bin(void);

/* ---- child processes (exec.c) --------------------------------------------------------------- */

typedef struct backup_cmd {
	char **argv; /* NULL-terminated */
	int argc, cap;
} backup_cmd_t;

int backup_cmd_add(backup_cmd_t *c, const char *arg);
int backup_cmd_addf(backup_cmd_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void backup_cmd_free(backup_cmd_t *c);
/* The command line as one string (for logs), caller frees; NULL when out of memory. */
char *backup_cmd_str(const backup_cmd_t *c);
/* Start a command that runs `tarn ARGS...` on side s: argv of the local binary, or ssh with the
 * arguments shell-quoted for the remote shell. Adds to c (empty on entry). */
int backup_side_cmd(const backup_side_t *s, backup_cmd_t *c, const char *const *args);

/* Run c (stdin /dev/null). *out gets stdout (NUL-terminated, at most 64 MiB), *err the last
 * 8 KiB of stderr, trimmed (both caller frees; either pointer may be NULL if not wanted).
 * Returns the exit status (0..255, 128+signal), or -errno when it cannot be started. */
int backup_exec(const backup_cmd_t *c, char **out, char **err);
/* The same with extra environment entries ("K=V", NULL-terminated; may be NULL) and stdout
 * discarded: for hooks run with /bin/sh -c. */
int backup_exec_env(const backup_cmd_t *c, char *const *env, char **err);
/* One line out of a child's stderr for a message: the last non-empty line, control characters
 * replaced, at most 300 characters. Writes into buf. */
void backup_errline(const char *err, char *buf, size_t len);

/* Transfer: run `send` with its stdout into this process, which writes it to the stdin of
 * `recv`. Counts bytes, draws a progress bar on stderr when progress != 0 (estimate: total for
 * the bar, 0 if unknown). Returns 0 when both exit 0; otherwise -EIO with a message naming the
 * side that failed and its stderr (a receiver that dies is detected at once). */
typedef struct backup_xfer {
	uint64_t bytes;
	uint64_t ns;
} backup_xfer_t;
int backup_transfer(const backup_cmd_t *send, const backup_cmd_t *recv, uint64_t estimate, const char *label,
		    int progress, backup_xfer_t *x);
/* Run two commands that both print a volume's bytes and compare their outputs. 0 when equal;
 * -EIO "... differ at byte N" or a command failure. *bytes: bytes compared. */
int backup_compare(const backup_cmd_t *a, const backup_cmd_t *b, uint64_t *bytes);

/* ---- dataset listings (zq.c) ---------------------------------------------------------------- */

typedef struct backup_ds {
	char *name;
	char type; /* 'f' filesystem, 'v' volume, 's' snapshot */
	uint64_t guid, createtxg, avail, used, refer, written;
	int64_t creation;
	char *token; /* receive_resume_token, NULL if none */
} backup_ds_t;

typedef struct backup_list {
	backup_ds_t *ds;
	int n, cap;
} backup_list_t;

/* `zfs list -Hp -t all -r ROOT` on side s. -ENOENT (message "dataset does not exist") when ROOT
 * does not exist; -EIO with the child's message for other failures or malformed output. */
int backup_list(const backup_side_t *s, const char *root, backup_list_t *l);
void backup_list_free(backup_list_t *l);
backup_ds_t *backup_list_find(const backup_list_t *l, const char *name);
/* Run `tarn ARGS...` on side s; 0, or -EIO "<what>: <child's stderr line>". *out as backup_exec. */
int backup_tarn(const backup_side_t *s, const char *const *args, char **out, const char *what);

/* ---- runs (run.c) --------------------------------------------------------------------------- */

enum backup_vm_status { BACKUP_VM_OK, BACKUP_VM_FAILED, BACKUP_VM_SKIPPED };

typedef struct backup_vm_result {
	char *vm;
	int status;
	char step[32];  /* step that failed ("" when ok) */
	char *error;    /* message, NULL when ok */
	char *warning;  /* e.g. a failed post-snapshot hook, a resumed transfer */
	char *snapshot; /* the snapshot made (short name), NULL if none */
	char *base;     /* incremental base (short name), NULL for full */
	int nvols;
	uint64_t size;     /* referenced of the new snapshot, sum over volumes */
	uint64_t estimate; /* send estimate */
	uint64_t sent;     /* stream bytes moved (including resumed ones) */
	uint64_t needed, available;
	int room_checked;
	uint64_t ns; /* duration */
	char **pruned_src, **pruned_dest;
	int npruned_src, npruned_dest;
	int64_t last_success; /* this run's end if ok, else the previous one from the state file */
} backup_vm_result_t;

typedef struct backup_run {
	char job[BACKUP_JOB_NAME_MAX];
	char host[256];
	char dest[NAME_MAXLEN + 300]; /* destination as the user gave it */
	int dry_run;
	int64_t start, end;
	backup_vm_result_t *vms;
	int nvms, cap;
	char *error;      /* job-level error (no VM could be processed), NULL otherwise */
	char *mail_error; /* mail not sent, NULL otherwise */
	int mail_sent;
} backup_run_t;

typedef struct backup_opts {
	int dry_run;
	int progress; /* draw progress bars on stderr */
	FILE *log;    /* step-by-step log (stderr) */
} backup_opts_t;

/* Run a job: lock, then per VM resume / plan / snapshot / room check / send / verify / prune.
 * Fills *r (free with backup_run_free). Returns 0 when the run happened (look at r for per-VM
 * results), -EBUSY "job 'x' is already running", or another -errno for job-level failures
 * (recorded in r->error too). Writes the status files unless dry-run. */
int backup_run(const backup_job_t *j, const backup_opts_t *o, backup_run_t *r);
void backup_run_free(backup_run_t *r);
/* 1 if every VM is ok and there is no job error. */
int backup_run_ok(const backup_run_t *r);

/* Restore VM's backup @snap from the destination into dataset `to` on the source side; with
 * force, `to` may exist and is replaced (after the new copy was received in full). */
int backup_restore(const backup_job_t *j, const char *vm, const char *snap, const char *to, int force,
		   const backup_opts_t *o);

/* ---- lock and status (status.c) ------------------------------------------------------------- */

/* Take the job's lock ($TARN_HOME/backup/JOB.lock, flock). Returns the fd, -EBUSY when held. */
int backup_lock(const char *job);
/* Fill r->vms[i].last_success from the previous state, and write the state file, the JSON status
 * and the Prometheus textfile. */
int backup_status_write(const backup_job_t *j, backup_run_t *r);
/* Print the status table of one job (NULL: every job with a state file). Returns 0, -ENOENT. */
int backup_status_print(FILE *f, const char *job);

/* ---- reports and mail (report.c, mail.c) ---------------------------------------------------- */

/* The report as plain text and as HTML (caller frees both). Subject into subj. */
int backup_report(const backup_run_t *r, char **text, char **html, char *subj, size_t subjlen);
/* Mail the report per the job's mail settings; 0, or -errno with the reason. */
int backup_mail(const backup_job_t *j, const backup_run_t *r);

/* Human-readable byte count ("1.50 GiB"). */
void backup_bytes(uint64_t n, char *buf, size_t len);
/* UTC time "2026-11-26 20:51:03 UTC". */
void backup_time(int64_t t, char *buf, size_t len);

#endif
