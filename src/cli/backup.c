/* cli/backup.c — `tarn backup run|status|list|restore`: options and job files into a
 * backup_job_t, then the backup layer. Exit status: 0 every VM backed up, 1 some VM failed (or
 * the job could not run), 2 usage or configuration error, 3 backed up but the report could not
 * be mailed. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/backup.h"
#include "cli/cli.h"
#include "util/err.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage:\n"
		"\ttarn backup run [JOB] [--job FILE] [--KEY=VALUE]... [--dry-run] [--quiet]\n"
		"\ttarn backup status [JOB]\n"
		"\ttarn backup list [JOB] [--job FILE] [--KEY=VALUE]... [--vm VM]\n"
		"\ttarn backup restore [JOB] [--job FILE] [--KEY=VALUE]... --vm VM --snapshot SNAP\n"
		"\t    [--to DATASET] [--force]\n\n"
		"Backs up VMs: a VM is a container dataset VM-ROOT/VM holding the VM's volumes. A run,\n"
		"per VM: resume a transfer an earlier run left unfinished; snapshot the VM recursively\n"
		"and atomically (@tarn-JOB-YYYYMMDDTHHMMSSZ); estimate the stream and check that it fits\n"
		"on the destination with the margin (\"Needed room / Available room\"; a VM that does not\n"
		"fit is skipped); send each volume incrementally from the newest snapshot both sides\n"
		"share (matched by guid), in full when there is none, into DEST/VM/<volume> (receive -s:\n"
		"an interrupted transfer resumes next time); verify the received snapshot (guid, or\n"
		"every byte with verify=full); prune this job's snapshots per retention on each side,\n"
		"never the newest common one; write the status files; mail the report.\n"
		"A destination changed since the last backup (written to, or snapshotted) is reported\n"
		"and left alone unless rollback-dest=yes.\n\n"
		"JOB is the job file %s/JOB.conf ($TARN_JOB_DIR); --job FILE names\n"
		"any file. --KEY=VALUE (or --KEY VALUE) sets any job-file key and overrides the file, so\n"
		"a one-off run needs no file:\n"
		"\ttarn backup run --vms=VM2,VM5 --vm-root=data/vms --dest=backup/vms --keep=7\n\n"
		"run options:\n"
		"\t-n, --dry-run   show what would be sent and pruned; change nothing\n"
		"\t-q, --quiet     no step log and no summary (errors still go to stderr)\n"
		"restore options:\n"
		"\t--vm VM --snapshot SNAP   the backup to restore (see `tarn backup list`)\n"
		"\t--to DATASET    where to put it (default VM-ROOT/VM)\n"
		"\t--force         replace an existing target (after the copy arrived in full)\n\n"
		"Job file: an INI file with one [job] section of KEY = VALUE lines ('#' comments).\n"
		"Unknown keys and bad values are errors (FILE:LINE: ...). Keys:\n",
		backup_job_dir());
	backup_job_keys_help(f);
	fprintf(f,
		"\nRetention (keep*): the N newest (last=N) plus, per period, the newest snapshot of each of\n"
		"the N newest hours/days/ISO weeks/months/years (UTC) that have one, by creation time;\n"
		"only this job's snapshots are pruned. Example: keep = last=3,daily=7,weekly=4,monthly=6\n\n"
		"Example job file %s/nightly.conf:\n"
		"\t[job]\n"
		"\tvm-root = data/vms\n"
		"\tvms = all\n"
		"\tdest = ssh://backup@nas.example.com/tank/vms\n"
		"\tkeep-source = last=2\n"
		"\tkeep-dest = daily=14,weekly=8,monthly=12\n"
		"\tmail-to = admin@example.com\n"
		"\tmail-on = always\n"
		"\tsmtp-server = mail.example.com\n"
		"\tsmtp-tls = starttls\n"
		"\tsmtp-auth = login\n"
		"\tsmtp-user = tarn\n"
		"\tsmtp-password-file = /etc/tarn/smtp-password\n\n"
		"Scheduling, cron (/etc/cron.d/tarn-backup):\n"
		"\t30 2 * * * root /usr/local/sbin/tarn backup run nightly --quiet\n"
		"systemd (contrib/tarn-backup@.service and .timer):\n"
		"\tsystemctl enable --now tarn-backup@nightly.timer\n\n"
		"Files: $TARN_HOME/backup/JOB.lock (a second run of a job exits: \"already running\"),\n"
		"JOB.state and JOB.json (last run, last success per VM, bytes, durations, errors),\n"
		"JOB.prom (Prometheus textfile: tarn_backup_last_success_timestamp_seconds{job,vm}, ...;\n"
		"see prometheus-file). `tarn backup status` prints them.\n\n"
		"Exit status: 0 every VM backed up; 1 some VM failed or was skipped, or the job could not\n"
		"run; 2 usage or configuration error; 3 every VM backed up but the report mail failed.\n"
		"Environment: TARN_HOME (state), TARN_JOB_DIR (job files), TARN_SMTP_PASSWORD,\n"
		"TARN_BIN (the tarn binary to run; default this one).\n",
		backup_job_dir());
}

static int usage_err(const char *fmt, const char *arg)
{
	fprintf(stderr, "tarn backup: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry `tarn backup --help`.\n");
	return 2;
}

typedef struct args {
	const char *job, *jobfile, *vm, *snapshot, *to;
	int dry_run, quiet, force;
} args_t;

/* Options common to run/list/restore: JOB, --job, --KEY=VALUE (applied after the file). Returns
 * 0 or an exit status. */
static int parse(int argc, char **argv, int allow, args_t *a, backup_job_t *j)
{
	char **kv = calloc((size_t)argc + 1, sizeof(char *) * 2);
	int nkv = 0, rc = 0;
	if (!kv)
		return 1;
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc && rc == 0; i++) {
		char *s = argv[i];
		const char *v = NULL;
		if (s[0] != '-') {
			if (a->job) {
				rc = usage_err("unexpected argument '%s'", s);
				break;
			}
			a->job = s;
			continue;
		}
		if (!strcmp(s, "-n") || !strcmp(s, "--dry-run")) {
			if (!(allow & 1))
				rc = usage_err("%s: only for `run`", s);
			a->dry_run = 1;
			continue;
		}
		if (!strcmp(s, "-q") || !strcmp(s, "--quiet")) {
			a->quiet = 1;
			continue;
		}
		if (!strcmp(s, "--force")) {
			if (!(allow & 4))
				rc = usage_err("%s: only for `restore`", s);
			a->force = 1;
			continue;
		}
		if (strncmp(s, "--", 2) || !s[2]) {
			rc = usage_err("unknown option '%s'", s);
			break;
		}
		char key[64];
		const char *eq = strchr(s, '=');
		size_t kl = eq ? (size_t)(eq - s - 2) : strlen(s + 2);
		if (kl >= sizeof(key)) {
			rc = usage_err("unknown option '%.80s'", s);
			break;
		}
		memcpy(key, s + 2, kl);
		key[kl] = 0;
		if (eq)
			v = eq + 1;
		else if (i + 1 < argc)
			v = argv[++i];
		else {
			rc = usage_err("option '%s' needs a value", s);
			break;
		}
		if (!strcmp(key, "job"))
			a->jobfile = v;
		else if (!strcmp(key, "vm") || !strcmp(key, "snapshot") || !strcmp(key, "to")) {
			if (!(allow & (key[0] == 'v' ? 2 | 4 : 4))) {
				rc = usage_err("--%s: not an option of this command", key);
				break;
			}
			if (key[0] == 'v')
				a->vm = v;
			else if (key[0] == 's')
				a->snapshot = v;
			else
				a->to = v;
		} else {
			kv[2 * nkv] = key[0] ? strdup(key) : NULL;
			kv[2 * nkv + 1] = (char *)v;
			if (!kv[2 * nkv]) {
				rc = usage_err("bad option '%s'", s);
				break;
			}
			nkv++;
		}
	}
	if (rc == 0 && a->job && a->jobfile)
		rc = usage_err("%s", "give a JOB name or --job FILE, not both");
	if (rc == 0 && (a->job || a->jobfile)) {
		char path[4200];
		if (a->job) {
			if (strchr(a->job, '/') || a->job[0] == '.') {
				rc = usage_err("bad job name '%s'", a->job);
				goto out;
			}
			snprintf(path, sizeof(path), "%s/%s.conf", backup_job_dir(), a->job);
		} else
			snprintf(path, sizeof(path), "%s", a->jobfile);
		if (backup_job_load(j, path) < 0) {
			fprintf(stderr, "tarn backup: %s\n", terr_msg());
			rc = 2;
			goto out;
		}
	}
	for (int i = 0; i < nkv && rc == 0; i++)
		if (backup_job_set(j, kv[2 * i], kv[2 * i + 1]) < 0) {
			fprintf(stderr, "tarn backup: --%s: %s\n", kv[2 * i], terr_msg());
			rc = 2;
		}
	if (rc == 0 && backup_job_finish(j) < 0) {
		fprintf(stderr, "tarn backup: %s\n", terr_msg());
		rc = 2;
	}
out:
	for (int i = 0; i < nkv; i++)
		free(kv[2 * i]);
	free(kv);
	return rc;
}

static int cmd_run(int argc, char **argv)
{
	backup_job_t j;
	args_t a;
	backup_job_init(&j);
	int rc = parse(argc, argv, 1, &a, &j);
	if (rc) {
		backup_job_free(&j);
		return rc;
	}
	backup_opts_t o = {.dry_run = a.dry_run, .progress = !a.quiet && isatty(2), .log = a.quiet ? NULL : stderr};
	backup_run_t r;
	rc = backup_run(&j, &o, &r);
	int st;
	if (rc == -EBUSY) {
		fprintf(stderr, "tarn backup: %s\n", terr_msg());
		st = 1;
	} else {
		if (rc < 0)
			fprintf(stderr, "tarn backup: job '%s' failed: %s\n", j.name, r.error ? r.error : terr_msg());
		if (!a.quiet) {
			char *text = NULL, *html = NULL, subj[600];
			if (backup_report(&r, &text, &html, subj, sizeof(subj)) == 0)
				printf("%s%s", a.dry_run ? "(dry run: nothing was changed)\n" : "", text);
			free(text);
			free(html);
		}
		for (int i = 0; i < r.nvms; i++)
			if (r.vms[i].error && a.quiet)
				fprintf(stderr, "tarn backup: %s: %s: %s\n", r.vms[i].vm, r.vms[i].step, r.vms[i].error);
		st = backup_run_ok(&r) ? 0 : 1;
		if (st == 0 && r.mail_error) {
			fprintf(stderr, "tarn backup: every VM was backed up, but the report mail failed: %s\n", r.mail_error);
			st = 3;
		}
	}
	backup_run_free(&r);
	backup_job_free(&j);
	return st;
}

static int cmd_status(int argc, char **argv)
{
	if (argc > 2)
		return usage_err("%s", "status takes at most one JOB");
	if (argc == 2 && (argv[1][0] == '-' || strchr(argv[1], '/')))
		return usage_err("bad job name '%s'", argv[1]);
	if (backup_status_print(stdout, argc == 2 ? argv[1] : NULL) < 0) {
		fprintf(stderr, "tarn backup: %s\n", terr_msg());
		return 1;
	}
	return 0;
}

/* One row per (VM, snapshot) over the VM's volumes on the destination. */
static int cmd_list(int argc, char **argv)
{
	backup_job_t j;
	args_t a;
	backup_job_init(&j);
	/* vms/vm-root are not needed to list: default them */
	j.have_vms = j.have_vm_root = 1;
	j.all_vms = 1;
	snprintf(j.vm_root, sizeof(j.vm_root), "-");
	int rc = parse(argc, argv, 2, &a, &j);
	if (rc) {
		backup_job_free(&j);
		return rc;
	}
	backup_list_t l;
	if (backup_list(&j.dside, j.dest, &l) < 0) {
		fprintf(stderr, "tarn backup: cannot list the destination: %s\n", terr_msg());
		backup_job_free(&j);
		return 1;
	}
	table_t t;
	static const char *const hdr[] = {"VM", "SNAPSHOT", "CREATED", "VOLUMES", "SIZE", "UNIQUE"};
	static const int right[] = {0, 0, 0, 1, 1, 1};
	table_init(&t, 6, hdr, right);
	size_t dl = strlen(j.dest);
	int rows = 0;
	/* snapshots in listing order (by dataset, then creation): aggregate per VM + name */
	typedef struct row {
		char vm[NAME_MAXLEN], snap[NAME_MAXLEN];
		int64_t created;
		int vols;
		uint64_t refer, used;
	} row_t;
	row_t *rv = calloc((size_t)l.n + 1, sizeof(row_t));
	int nr = 0;
	for (int i = 0; rv && i < l.n; i++) {
		const backup_ds_t *d = &l.ds[i];
		const char *at = strchr(d->name, '@');
		if (d->type != 's' || strncmp(d->name, j.dest, dl) || d->name[dl] != '/')
			continue;
		const char *vm = d->name + dl + 1;
		size_t vl = strcspn(vm, "/@");
		if (vm[vl] != '/' || vl >= NAME_MAXLEN || strlen(at + 1) >= NAME_MAXLEN)
			continue; /* a snapshot of the VM container itself, or odd */
		if (a.vm && (strlen(a.vm) != vl || strncmp(a.vm, vm, vl)))
			continue;
		int k;
		for (k = 0; k < nr; k++)
			if (strlen(rv[k].vm) == vl && !strncmp(rv[k].vm, vm, vl) && !strcmp(rv[k].snap, at + 1))
				break;
		if (k == nr) {
			memcpy(rv[k].vm, vm, vl);
			rv[k].vm[vl] = 0;
			snprintf(rv[k].snap, sizeof(rv[k].snap), "%s", at + 1);
			rv[k].created = d->creation;
			nr++;
		}
		rv[k].vols++;
		rv[k].refer += d->refer;
		rv[k].used += d->used;
	}
	for (int k = 0; rv && k < nr; k++) {
		char cr[40], vols[16], sz[32], us[32];
		backup_time(rv[k].created, cr, sizeof(cr));
		snprintf(vols, sizeof(vols), "%d", rv[k].vols);
		backup_bytes(rv[k].refer, sz, sizeof(sz));
		backup_bytes(rv[k].used, us, sizeof(us));
		const char *cells[] = {rv[k].vm, rv[k].snap, cr, vols, sz, us};
		table_add(&t, cells);
		rows++;
	}
	free(rv);
	if (rows)
		table_print(&t, stdout, 0, 1);
	else
		fprintf(stderr, "no backups%s%s in %s\n", a.vm ? " of " : "", a.vm ? a.vm : "", j.dest);
	table_free(&t);
	backup_list_free(&l);
	backup_job_free(&j);
	return 0;
}

static int cmd_restore(int argc, char **argv)
{
	backup_job_t j;
	args_t a;
	backup_job_init(&j);
	j.have_vms = j.have_vm_root = 1; /* restore needs vm-root only without --to */
	j.all_vms = 1;
	int rc = parse(argc, argv, 4, &a, &j);
	if (rc) {
		backup_job_free(&j);
		return rc;
	}
	if (!a.to && !j.vm_root[0]) {
		backup_job_free(&j);
		return usage_err("%s", "restore needs --to DATASET, or vm-root to restore to VM-ROOT/VM");
	}
	if (!a.vm || !a.snapshot) {
		backup_job_free(&j);
		return usage_err("%s", "restore needs --vm VM and --snapshot SNAP");
	}
	if (strchr(a.vm, '/') || strchr(a.vm, '@') || strchr(a.snapshot, '@') || strchr(a.snapshot, '/') ||
	    !a.vm[0] || !a.snapshot[0]) {
		backup_job_free(&j);
		return usage_err("%s", "--vm is a VM name and --snapshot a snapshot name without '@'");
	}
	backup_opts_t o = {.progress = !a.quiet && isatty(2), .log = a.quiet ? NULL : stderr};
	rc = backup_restore(&j, a.vm, a.snapshot, a.to, a.force, &o);
	if (rc < 0)
		fprintf(stderr, "tarn backup: cannot restore %s@%s: %s\n", a.vm, a.snapshot, terr_msg());
	backup_job_free(&j);
	return rc < 0 ? 1 : 0;
}

int cmd_backup(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (cli_wants_help(argc, argv) || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status"))
		return cmd_status(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return cmd_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "restore"))
		return cmd_restore(argc - 1, argv + 1);
	fprintf(stderr, "tarn backup: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
