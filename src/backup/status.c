/* backup/status.c — the job lock and the status files under $TARN_HOME/backup/:
 *   JOB.lock   flock held for the whole run ("already running")
 *   JOB.state  tab-separated record of the last run and of every VM ever run (source of truth)
 *   JOB.json   the same for monitoring scripts
 *   JOB.prom   Prometheus textfile-collector metrics (or the job's prometheus-file)
 * Files are written to a temporary name and renamed, so readers never see half a file. */
#include "backup/backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "util/err.h"
#include "util/grow.h"
#include "util/strnum.h"

#define STATE_MAGIC "tarn-backup-state 1"

int backup_lock(const char *job)
{
	char dir[4096], path[4200];
	TRY(backup_state_dir(dir, sizeof(dir), 1));
	snprintf(path, sizeof(path), "%s/%s.lock", dir, job);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return terr(errno, "cannot open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return terr(EBUSY, "job '%s' is already running (lock %s is held)", job, path);
		return terr(e, "cannot lock %s: %s", path, strerror(e));
	}
	return fd;
}

/* One VM line of the state file. */
typedef struct vmstate {
	char *vm, *status, *snapshot, *step, *error;
	int64_t last_run, last_success;
	uint64_t sent, size, ms;
} vmstate_t;

typedef struct state {
	int64_t start, end;
	char *status, *mail, *error;
	vmstate_t *v;
	int n, cap;
} state_t;

static void state_free(state_t *s)
{
	for (int i = 0; i < s->n; i++) {
		free(s->v[i].vm);
		free(s->v[i].status);
		free(s->v[i].snapshot);
		free(s->v[i].step);
		free(s->v[i].error);
	}
	free(s->v);
	free(s->status);
	free(s->mail);
	free(s->error);
	memset(s, 0, sizeof(*s));
}

static int i64(const char *s, int64_t *v)
{
	uint64_t u;
	if (parse_u64(s, &u) < 0 || u > INT64_MAX)
		return -1;
	*v = (int64_t)u;
	return 0;
}

static char *dash_null(const char *s) { return strcmp(s, "-") ? strdup(s) : NULL; }

/* Read JOB.state; a missing file is an empty state. Malformed lines are skipped. */
static int state_read(const char *path, state_t *s)
{
	memset(s, 0, sizeof(*s));
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? -ENOENT : terr(errno, "cannot read %s: %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	int first = 1;
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = 0;
		if (first) {
			first = 0;
			if (strcmp(line, STATE_MAGIC))
				break;
			continue;
		}
		char *fld[12];
		int nf = 0;
		char *save = NULL;
		for (char *t = strtok_r(line, "\t", &save); t && nf < 12; t = strtok_r(NULL, "\t", &save))
			fld[nf++] = t;
		if (nf == 6 && !strcmp(fld[0], "run")) {
			if (i64(fld[1], &s->start) < 0 || i64(fld[2], &s->end) < 0)
				continue;
			free(s->status);
			free(s->mail);
			free(s->error);
			s->status = strdup(fld[3]);
			s->mail = strdup(fld[4]);
			s->error = dash_null(fld[5]);
		} else if (nf == 11 && !strcmp(fld[0], "vm")) {
			vmstate_t v = {0};
			if (i64(fld[2], &v.last_run) < 0 || i64(fld[4], &v.last_success) < 0 || parse_u64(fld[6], &v.sent) < 0 ||
			    parse_u64(fld[7], &v.size) < 0 || parse_u64(fld[8], &v.ms) < 0)
				continue;
			if (GROW(s->v, s->cap, s->n, 8) < 0)
				break;
			v.vm = strdup(fld[1]);
			v.status = strdup(fld[3]);
			v.snapshot = dash_null(fld[5]);
			v.step = dash_null(fld[9]);
			v.error = dash_null(fld[10]);
			s->v[s->n++] = v;
		}
	}
	free(line);
	fclose(f);
	return 0;
}

/* A field for the state file: no tabs or newlines; "-" for empty. */
static void field(FILE *f, const char *s)
{
	if (!s || !*s) {
		fputc('-', f);
		return;
	}
	for (; *s; s++)
		fputc((*s == '\t' || *s == '\n' || *s == '\r') ? ' ' : *s, f);
}

static void json_s(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void prom_s(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static const char *vm_status_name(int st)
{
	return st == BACKUP_VM_OK ? "ok" : st == BACKUP_VM_SKIPPED ? "skipped" : "failed";
}

/* Write via path.tmp + rename. */
static FILE *open_tmp(const char *path, char *tmp, size_t len)
{
	snprintf(tmp, len, "%s.tmp.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		terr(errno, "cannot write %s: %s", tmp, strerror(errno));
	return f;
}

static int close_tmp(FILE *f, const char *tmp, const char *path)
{
	int bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		unlink(tmp);
		return terr(EIO, "cannot write %s", tmp);
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return terr(e, "cannot rename %s to %s: %s", tmp, path, strerror(e));
	}
	return 0;
}

int backup_status_write(const backup_job_t *j, backup_run_t *r)
{
	char dir[4096], path[4300], tmp[4400];
	state_t old;
	TRY(backup_state_dir(dir, sizeof(dir), 1));
	snprintf(path, sizeof(path), "%s/%s.state", dir, j->name);
	int rc = state_read(path, &old);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	for (int i = 0; i < r->nvms; i++) {
		backup_vm_result_t *v = &r->vms[i];
		v->last_success = v->status == BACKUP_VM_OK ? r->end : 0;
		for (int k = 0; k < old.n && v->status != BACKUP_VM_OK; k++)
			if (old.v[k].vm && !strcmp(old.v[k].vm, v->vm))
				v->last_success = old.v[k].last_success;
	}
	const char *run_status = backup_run_ok(r) ? "ok" : "failed";
	const char *mail = r->mail_sent ? "sent" : r->mail_error ? "failed" : "none";

	/* JOB.state */
	FILE *f = open_tmp(path, tmp, sizeof(tmp));
	if (!f) {
		state_free(&old);
		return -EIO;
	}
	fprintf(f, "%s\nrun\t%lld\t%lld\t%s\t%s\t", STATE_MAGIC, (long long)r->start, (long long)r->end, run_status, mail);
	field(f, r->error);
	fputc('\n', f);
	for (int i = 0; i < r->nvms; i++) {
		backup_vm_result_t *v = &r->vms[i];
		fputs("vm\t", f);
		field(f, v->vm);
		fprintf(f, "\t%lld\t%s\t%lld\t", (long long)r->end, vm_status_name(v->status), (long long)v->last_success);
		field(f, v->snapshot);
		fprintf(f, "\t%llu\t%llu\t%llu\t", (unsigned long long)v->sent, (unsigned long long)v->size,
			(unsigned long long)(v->ns / 1000000));
		field(f, v->step);
		fputc('\t', f);
		field(f, v->error);
		fputc('\n', f);
	}
	/* VMs of earlier runs that this run did not touch keep their line */
	for (int k = 0; k < old.n; k++) {
		int seen = 0;
		for (int i = 0; i < r->nvms && !seen; i++)
			seen = old.v[k].vm && !strcmp(old.v[k].vm, r->vms[i].vm);
		if (seen || !old.v[k].vm)
			continue;
		vmstate_t *o = &old.v[k];
		fputs("vm\t", f);
		field(f, o->vm);
		fprintf(f, "\t%lld\t", (long long)o->last_run);
		field(f, o->status);
		fprintf(f, "\t%lld\t", (long long)o->last_success);
		field(f, o->snapshot);
		fprintf(f, "\t%llu\t%llu\t%llu\t", (unsigned long long)o->sent, (unsigned long long)o->size,
			(unsigned long long)o->ms);
		field(f, o->step);
		fputc('\t', f);
		field(f, o->error);
		fputc('\n', f);
	}
	rc = close_tmp(f, tmp, path);
	state_free(&old);
	TRY(rc);

	/* JOB.json and JOB.prom, from the state just written (so they include untouched VMs) */
	state_t s;
	TRY(state_read(path, &s));
	snprintf(path, sizeof(path), "%s/%s.json", dir, j->name);
	if (!(f = open_tmp(path, tmp, sizeof(tmp)))) {
		state_free(&s);
		return -EIO;
	}
	fputs("{\"job\": ", f);
	json_s(f, j->name);
	fputs(", \"host\": ", f);
	json_s(f, r->host);
	fputs(", \"destination\": ", f);
	json_s(f, r->dest);
	fprintf(f, ",\n \"last_run\": {\"start\": %lld, \"end\": %lld, \"status\": ", (long long)s.start, (long long)s.end);
	json_s(f, s.status);
	fputs(", \"mail\": ", f);
	json_s(f, s.mail);
	fputs(", \"error\": ", f);
	json_s(f, s.error);
	fputs("},\n \"vms\": [", f);
	for (int i = 0; i < s.n; i++) {
		vmstate_t *v = &s.v[i];
		fprintf(f, "%s\n  {\"vm\": ", i ? "," : "");
		json_s(f, v->vm);
		fprintf(f, ", \"last_run\": %lld, \"status\": ", (long long)v->last_run);
		json_s(f, v->status);
		fprintf(f, ", \"last_success\": %lld, \"snapshot\": ", (long long)v->last_success);
		json_s(f, v->snapshot);
		fprintf(f, ", \"bytes_sent\": %llu, \"size\": %llu, \"duration_seconds\": %.3f, \"step\": ",
			(unsigned long long)v->sent, (unsigned long long)v->size, v->ms / 1000.0);
		json_s(f, v->step);
		fputs(", \"error\": ", f);
		json_s(f, v->error);
		fputc('}', f);
	}
	fputs("\n ]}\n", f);
	if ((rc = close_tmp(f, tmp, path)) < 0) {
		state_free(&s);
		return rc;
	}

	if (j->prometheus_file)
		snprintf(path, sizeof(path), "%s", j->prometheus_file);
	else
		snprintf(path, sizeof(path), "%s/%s.prom", dir, j->name);
	if (!(f = open_tmp(path, tmp, sizeof(tmp)))) {
		state_free(&s);
		return -EIO;
	}
	static const char *const hdr[][2] = {
		{"tarn_backup_last_run_timestamp_seconds", "End of the job's last run."},
		{"tarn_backup_last_run_success", "1 if every VM of the job's last run was backed up."},
	};
	for (int h = 0; h < 2; h++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s{job=\"", hdr[h][0], hdr[h][1], hdr[h][0], hdr[h][0]);
		prom_s(f, j->name);
		fprintf(f, "\"} %lld\n", h == 0 ? (long long)s.end : (long long)!strcmp(s.status ? s.status : "", "ok"));
	}
	static const char *const vhdr[][2] = {
		{"tarn_backup_last_success_timestamp_seconds", "When the VM was last backed up successfully (0: never)."},
		{"tarn_backup_vm_last_run_timestamp_seconds", "When the VM's last backup attempt ended."},
		{"tarn_backup_vm_success", "1 if the VM's last backup attempt succeeded."},
		{"tarn_backup_sent_bytes", "Stream bytes sent by the VM's last backup attempt."},
		{"tarn_backup_snapshot_bytes", "Referenced bytes of the VM's last snapshot."},
		{"tarn_backup_duration_seconds", "Duration of the VM's last backup attempt."},
	};
	for (int h = 0; h < 6; h++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", vhdr[h][0], vhdr[h][1], vhdr[h][0]);
		for (int i = 0; i < s.n; i++) {
			vmstate_t *v = &s.v[i];
			fprintf(f, "%s{job=\"", vhdr[h][0]);
			prom_s(f, j->name);
			fputs("\",vm=\"", f);
			prom_s(f, v->vm ? v->vm : "");
			fputs("\"} ", f);
			switch (h) {
			case 0: fprintf(f, "%lld\n", (long long)v->last_success); break;
			case 1: fprintf(f, "%lld\n", (long long)v->last_run); break;
			case 2: fprintf(f, "%d\n", v->status && !strcmp(v->status, "ok")); break;
			case 3: fprintf(f, "%llu\n", (unsigned long long)v->sent); break;
			case 4: fprintf(f, "%llu\n", (unsigned long long)v->size); break;
			default: fprintf(f, "%.3f\n", v->ms / 1000.0); break;
			}
		}
	}
	rc = close_tmp(f, tmp, path);
	state_free(&s);
	return rc;
}

static void print_job(FILE *out, const char *dir, const char *job, int *printed)
{
	char path[4300], lr[40], ls[40], sent[32];
	state_t s;
	snprintf(path, sizeof(path), "%s/%s.state", dir, job);
	if (state_read(path, &s) < 0)
		return;
	if (!*printed)
		fprintf(out, "%-16s %-16s %-8s %-23s %-23s %10s %9s  %s\n", "JOB", "VM", "STATUS", "LAST RUN", "LAST SUCCESS",
			"SENT", "DURATION", "ERROR");
	*printed = 1;
	for (int i = 0; i < s.n; i++) {
		vmstate_t *v = &s.v[i];
		backup_time(v->last_run, lr, sizeof(lr));
		if (v->last_success)
			backup_time(v->last_success, ls, sizeof(ls));
		else
			snprintf(ls, sizeof(ls), "never");
		backup_bytes(v->sent, sent, sizeof(sent));
		char step[64] = "";
		if (v->step)
			snprintf(step, sizeof(step), "%s: ", v->step);
		fprintf(out, "%-16s %-16s %-8s %-23s %-23s %10s %8.1fs  %s%s\n", job, v->vm ? v->vm : "?",
			v->status ? v->status : "?", lr, ls, sent, v->ms / 1000.0, step, v->error ? v->error : "-");
	}
	if (s.error)
		fprintf(out, "%-16s %-16s %-8s %s\n", job, "-", "failed", s.error);
	state_free(&s);
}

int backup_status_print(FILE *out, const char *job)
{
	char dir[4096];
	int printed = 0;
	TRY(backup_state_dir(dir, sizeof(dir), 0));
	if (job) {
		print_job(out, dir, job, &printed);
		if (!printed)
			return terr(ENOENT, "no status for job '%s' (it has not run yet)", job);
		return 0;
	}
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		return terr(ENOENT, "no backup job has run yet (%s does not exist)", dir);
	for (int i = 0; i < n; i++) {
		size_t l = strlen(ents[i]->d_name);
		if (l > 6 && !strcmp(ents[i]->d_name + l - 6, ".state")) {
			ents[i]->d_name[l - 6] = 0;
			print_job(out, dir, ents[i]->d_name, &printed);
		}
		free(ents[i]);
	}
	free(ents);
	if (!printed)
		return terr(ENOENT, "no backup job has run yet");
	return 0;
}
