/* backup/run.c — one run of a job (see backup.h): per VM, resume an interrupted transfer, plan
 * (incremental base by guid, divergence checks), hooks, recursive snapshot, send estimate and
 * room check, send/receive per volume, verification, retention on both sides. Every failure is
 * recorded in the VM's result with the step that failed; nothing here exits the run early
 * except a job-level problem (lock, VM list). */
#include "backup/backup.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "util/grow.h"
#include "util/strnum.h"
#include "util/timefmt.h"

typedef struct vol {
	char rel[NAME_MAXLEN]; /* path below the VM container ("disk0", "sub/disk1") */
	char src[NAME_MAXLEN], dst[NAME_MAXLEN];
	char base[NAME_MAXLEN]; /* short snapshot name, "" for a full send */
	uint64_t est;
} vol_t;

typedef struct ctx {
	const backup_job_t *j;
	const backup_opts_t *o;
	backup_side_t src; /* this host */
	backup_vm_result_t *r;
	char vmds[NAME_MAXLEN], dvm[NAME_MAXLEN];
	vol_t *vols;
	int nvols, cap;
} ctx_t;

static void logf_(const ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const ctx_t *c, const char *fmt, ...)
{
	if (!c->o->log)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(c->o->log, "%s: ", c->r->vm);
	vfprintf(c->o->log, fmt, ap);
	fputc('\n', c->o->log);
	fflush(c->o->log);
	va_end(ap);
}

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

/* Record the VM's failure (first one wins); returns -1. */
static int vm_fail(ctx_t *c, int status, const char *step, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int vm_fail(ctx_t *c, int status, const char *step, const char *fmt, ...)
{
	backup_vm_result_t *r = c->r;
	if (r->error)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&r->error, fmt, ap) < 0)
		r->error = NULL;
	va_end(ap);
	if (!r->error)
		r->error = strdup("out of memory");
	snprintf(r->step, sizeof(r->step), "%s", step);
	r->status = status;
	logf_(c, "%s failed: %s", step, r->error ? r->error : "?");
	return -1;
}

static void vm_warn(ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vm_warn(ctx_t *c, const char *fmt, ...)
{
	char *m = NULL, *n = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	if (!m)
		return;
	logf_(c, "warning: %s", m);
	if (c->r->warning) {
		if (asprintf(&n, "%s; %s", c->r->warning, m) < 0)
			n = NULL;
		free(m);
		if (!n)
			return;
		m = n;
	}
	free(c->r->warning);
	c->r->warning = m;
}

static int add_name(char ***l, int *n, const char *s)
{
	char **nl = realloc(*l, (size_t)(*n + 1) * sizeof(**l));
	if (!nl)
		return terr(ENOMEM, "out of memory");
	*l = nl;
	if (!(nl[*n] = strdup(s)))
		return terr(ENOMEM, "out of memory");
	(*n)++;
	return 0;
}

/* Is `snap` (short name) one of this job's: tarn-JOB-YYYYMMDDTHHMMSSZ? */
static int job_snap(const char *job, const char *snap)
{
	size_t jl = strlen(job);
	if (strncmp(snap, "tarn-", 5) || strncmp(snap + 5, job, jl) || snap[5 + jl] != '-')
		return 0;
	const char *t = snap + 6 + jl;
	if (strlen(t) != 16 || t[8] != 'T' || t[15] != 'Z')
		return 0;
	for (int i = 0; i < 15; i++)
		if (i != 8 && (t[i] < '0' || t[i] > '9'))
			return 0;
	return 1;
}

/* Short snapshot name of a full name under dataset ds, or NULL if not ds's snapshot. */
static const char *snap_of(const char *full, const char *ds)
{
	size_t l = strlen(ds);
	return !strncmp(full, ds, l) && full[l] == '@' ? full + l + 1 : NULL;
}

static int run_tarn(ctx_t *c, const backup_side_t *s, const char *const *args, char **out, const char *what)
{
	return backup_tarn(s, args, out, what);
}

/* Last "size\tN" line of `zfs send -nvP` output. */
static int parse_estimate(const char *out, uint64_t *est)
{
	const char *p = out, *hit = NULL;
	while ((p = strstr(p, "size\t"))) {
		if (p == out || p[-1] == '\n')
			hit = p;
		p += 5;
	}
	if (!hit)
		return terr(EIO, "no size line in the send estimate");
	char buf[24];
	size_t l = strcspn(hit + 5, "\n");
	if (l == 0 || l >= sizeof(buf))
		return terr(EIO, "bad size line in the send estimate");
	memcpy(buf, hit + 5, l);
	buf[l] = 0;
	if (parse_u64(buf, est) < 0)
		return terr(EIO, "bad size '%s' in the send estimate", buf);
	return 0;
}

/* ---- the steps ---- */

static int find_vols(ctx_t *c, const backup_list_t *sl)
{
	backup_ds_t *vm = backup_list_find(sl, c->vmds);
	if (!vm)
		return vm_fail(c, BACKUP_VM_FAILED, "lookup", "VM '%s' not found: dataset '%s' does not exist", c->r->vm,
			       c->vmds);
	if (vm->type != 'f')
		return vm_fail(c, BACKUP_VM_FAILED, "lookup", "'%s' is a %s, not a VM container (a filesystem holding volumes)",
			       c->vmds, vm->type == 'v' ? "volume" : "snapshot");
	size_t l = strlen(c->vmds);
	for (int i = 0; i < sl->n; i++) {
		const backup_ds_t *d = &sl->ds[i];
		if (d->type != 'v' || strncmp(d->name, c->vmds, l) || d->name[l] != '/')
			continue;
		if (GROW(c->vols, c->cap, c->nvols, 4) < 0)
			return vm_fail(c, BACKUP_VM_FAILED, "lookup", "out of memory");
		vol_t *v = &c->vols[c->nvols];
		memset(v, 0, sizeof(*v));
		snprintf(v->rel, sizeof(v->rel), "%s", d->name + l + 1);
		snprintf(v->src, sizeof(v->src), "%s", d->name);
		if ((size_t)snprintf(v->dst, sizeof(v->dst), "%s/%s", c->dvm, v->rel) >= sizeof(v->dst))
			return vm_fail(c, BACKUP_VM_FAILED, "plan", "destination name for %s is too long", d->name);
		c->nvols++;
	}
	c->r->nvols = c->nvols;
	if (!c->nvols)
		return vm_fail(c, BACKUP_VM_FAILED, "lookup", "VM '%s' has no volumes (%s holds none)", c->r->vm, c->vmds);
	return 0;
}

static int transfer(ctx_t *c, const backup_side_t *from, const char *const *sargs, const backup_side_t *to,
		    const char *const *rargs, uint64_t est, const char *label, backup_xfer_t *x)
{
	backup_cmd_t s = {0}, r = {0};
	int rc = backup_side_cmd(from, &s, sargs);
	if (rc == 0)
		rc = backup_side_cmd(to, &r, rargs);
	if (rc == 0)
		rc = backup_transfer(&s, &r, est, label, c->o->progress, x);
	backup_cmd_free(&s);
	backup_cmd_free(&r);
	return rc;
}

/* Finish transfers interrupted in an earlier run (receive -s left a resume token). Returns 1 if
 * anything was done (the destination listing is then stale), 0, or -1 (VM failed). */
static int resume(ctx_t *c, const backup_list_t *dl)
{
	int did = 0;
	for (int i = 0; i < c->nvols; i++) {
		vol_t *v = &c->vols[i];
		backup_ds_t *d = backup_list_find(dl, v->dst);
		if (!d || !d->token)
			continue;
		char *out = NULL;
		uint64_t est = 0;
		const char *eargs[] = {"zfs", "send", "-nvP", "-t", d->token, NULL};
		int rc = run_tarn(c, &c->src, eargs, &out, "zfs send -nvP -t");
		if (rc == 0)
			rc = parse_estimate(out, &est);
		free(out);
		did = 1;
		if (rc < 0) {
			/* the token cannot be resumed from here (its snapshot is gone): drop the partial state */
			char why[TERR_MSG_MAX];
			snprintf(why, sizeof(why), "%s", terr_msg());
			const char *aargs[] = {"zfs", "receive", "-A", v->dst, NULL};
			if (run_tarn(c, &c->j->dside, aargs, NULL, "zfs receive -A") < 0)
				return vm_fail(c, BACKUP_VM_FAILED, "resume",
					       "cannot resume the interrupted transfer to %s (%s), nor abort it: %s", v->dst,
					       why, terr_msg());
			vm_warn(c, "abandoned the interrupted transfer to %s: %s", v->dst, why);
			continue;
		}
		logf_(c, "resuming the interrupted transfer to %s (%llu bytes left)", v->dst, (unsigned long long)est);
		const char *sargs[] = {"zfs", "send", "-t", d->token, NULL};
		const char *rargs[] = {"zfs", "receive", "-s", "-u", v->dst, NULL};
		backup_xfer_t x;
		char label[NAME_MAXLEN + 16];
		snprintf(label, sizeof(label), "%s/%s (resume)", c->r->vm, v->rel);
		rc = transfer(c, &c->src, sargs, &c->j->dside, rargs, est, label, &x);
		c->r->sent += x.bytes;
		if (rc < 0)
			return vm_fail(c, BACKUP_VM_FAILED, "resume",
				       "resuming the transfer to %s: %s; the next run tries again (to start it over instead: "
				       "zfs receive -A %s on the destination)",
				       v->dst, terr_msg(), v->dst);
		vm_warn(c, "resumed an interrupted transfer to %s (%llu bytes)", v->dst, (unsigned long long)x.bytes);
	}
	return did;
}

/* Choose each volume's incremental base and refuse a diverged destination. */
static int plan(ctx_t *c, const backup_list_t *sl, const backup_list_t *dl)
{
	for (int i = 0; i < c->nvols; i++) {
		vol_t *v = &c->vols[i];
		backup_ds_t *dh = backup_list_find(dl, v->dst);
		v->base[0] = 0;
		if (!dh)
			continue; /* full */
		if (dh->type != 'v')
			return vm_fail(c, BACKUP_VM_FAILED, "plan", "destination %s exists and is not a volume", v->dst);
		/* newest source snapshot whose guid the destination has */
		const backup_ds_t *best = NULL, *bestd = NULL;
		for (int s = 0; s < sl->n; s++) {
			const backup_ds_t *ss = &sl->ds[s];
			if (ss->type != 's' || !snap_of(ss->name, v->src) || (best && ss->createtxg <= best->createtxg))
				continue;
			for (int d = 0; d < dl->n; d++)
				if (dl->ds[d].type == 's' && dl->ds[d].guid == ss->guid && snap_of(dl->ds[d].name, v->dst)) {
					best = ss;
					bestd = &dl->ds[d];
					break;
				}
		}
		if (!best) {
			int nsnaps = 0;
			for (int d = 0; d < dl->n; d++)
				nsnaps += dl->ds[d].type == 's' && snap_of(dl->ds[d].name, v->dst) != NULL;
			return vm_fail(c, BACKUP_VM_FAILED, "plan",
				       "destination %s exists but shares no snapshot with %s (%d snapshots there, none with a "
				       "source guid): it diverged or belongs to another VM; rename or destroy it to start a new "
				       "full backup",
				       v->dst, v->src, nsnaps);
		}
		snprintf(v->base, sizeof(v->base), "%s", snap_of(best->name, v->src));
		char newer[512] = "";
		int nnewer = 0;
		for (int d = 0; d < dl->n; d++) {
			const backup_ds_t *ds = &dl->ds[d];
			const char *sn = snap_of(ds->name, v->dst);
			if (ds->type != 's' || !sn || ds->createtxg <= bestd->createtxg)
				continue;
			if (nnewer++ < 5)
				snprintf(newer + strlen(newer), sizeof(newer) - strlen(newer), "%s@%s", nnewer > 1 ? ", " : "",
					 sn);
		}
		if (nnewer && !c->j->rollback_dest)
			return vm_fail(c, BACKUP_VM_FAILED, "plan",
				       "destination %s diverged: %d snapshot(s) newer than the newest common snapshot @%s (%s) "
				       "were made on the backup; destroy them there, or set rollback-dest=yes to discard them",
				       v->dst, nnewer, v->base, newer);
		if (!nnewer && dh->written && !c->j->rollback_dest)
			return vm_fail(c, BACKUP_VM_FAILED, "plan",
				       "destination %s diverged: %llu bytes were written to it since its snapshot @%s; roll it "
				       "back there (zfs rollback %s@%s), or set rollback-dest=yes to discard the change",
				       v->dst, (unsigned long long)dh->written, v->base, v->dst, v->base);
	}
	return 0;
}

/* Run a hook; a failure fails the VM, or (warn_only) is a warning. */
static int run_hook(ctx_t *c, const char *which, const char *cmd, const char *snap, int warn_only)
{
	backup_cmd_t h = {0};
	char *env[5] = {NULL}, *err = NULL, line[512];
	int rc = backup_cmd_add(&h, "/bin/sh");
	if (rc == 0)
		rc = backup_cmd_add(&h, "-c");
	if (rc == 0)
		rc = backup_cmd_add(&h, cmd);
	if (rc == 0 && (asprintf(&env[0], "TARN_BACKUP_JOB=%s", c->j->name) < 0 ||
			asprintf(&env[1], "TARN_BACKUP_VM=%s", c->r->vm) < 0 ||
			asprintf(&env[2], "TARN_BACKUP_DATASET=%s", c->vmds) < 0 ||
			asprintf(&env[3], "TARN_BACKUP_SNAPSHOT=%s", snap) < 0))
		rc = terr(ENOMEM, "out of memory");
	if (rc == 0)
		rc = backup_exec_env(&h, env, &err);
	backup_errline(err, line, sizeof(line));
	free(err);
	for (int i = 0; i < 4; i++)
		free(env[i]);
	backup_cmd_free(&h);
	if (rc < 0 && warn_only)
		vm_warn(c, "cannot run the %s hook: %s", which, terr_msg());
	else if (rc < 0)
		return vm_fail(c, BACKUP_VM_FAILED, which, "cannot run the %s hook: %s", which, terr_msg());
	else if (rc > 0 && warn_only)
		vm_warn(c, "the %s hook failed (exit status %d)%s%s", which, rc, line[0] ? ": " : "", line);
	else if (rc > 0)
		return vm_fail(c, BACKUP_VM_FAILED, which, "the %s hook failed (exit status %d)%s%s", which, rc,
			       line[0] ? ": " : "", line);
	return rc == 0 ? 0 : -1;
}

static void snapname(const char *job, char *buf, size_t len)
{
	time_t t = (time_t)now_epoch();
	struct tm tm;
	char ts[32];
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(buf, len, "tarn-%s-%s", job, ts);
}

static int take_snapshot(ctx_t *c, const backup_list_t *sl, char *snap, size_t len)
{
	char full[NAME_MAXLEN * 2];
	for (int tries = 0;; tries++) {
		snapname(c->j->name, snap, len);
		snprintf(full, sizeof(full), "%s@%s", c->vmds, snap);
		if (!backup_list_find(sl, full) || tries == 3)
			break;
		usleep(400000); /* a snapshot of this second exists: wait for the next second */
	}
	if (strlen(full) >= NAME_MAXLEN)
		return vm_fail(c, BACKUP_VM_FAILED, "snapshot", "snapshot name %s is too long", full);
	const char *args[] = {"zfs", "snapshot", "-r", full, NULL};
	if (run_tarn(c, &c->src, args, NULL, "zfs snapshot") < 0)
		return vm_fail(c, BACKUP_VM_FAILED, "snapshot", "%s", terr_msg());
	logf_(c, "snapshot %s", full);
	c->r->snapshot = strdup(snap);
	return 0;
}

static void drop_snapshot(ctx_t *c, const char *snap)
{
	char full[NAME_MAXLEN * 2];
	snprintf(full, sizeof(full), "%s@%s", c->vmds, snap);
	const char *args[] = {"zfs", "destroy", "-r", full, NULL};
	if (run_tarn(c, &c->src, args, NULL, "zfs destroy") < 0)
		vm_warn(c, "cannot destroy the unsent snapshot %s: %s", full, terr_msg());
	else {
		free(c->r->snapshot);
		c->r->snapshot = NULL;
	}
}

static int estimate(ctx_t *c, const char *snap)
{
	c->r->estimate = 0;
	for (int i = 0; i < c->nvols; i++) {
		vol_t *v = &c->vols[i];
		char to[NAME_MAXLEN * 2], from[NAME_MAXLEN + 2], *out = NULL;
		snprintf(to, sizeof(to), "%s@%s", v->src, snap);
		snprintf(from, sizeof(from), "@%s", v->base);
		const char *full[] = {"zfs", "send", "-nvP", "-c", to, NULL};
		const char *inc[] = {"zfs", "send", "-nvP", "-c", "-i", from, to, NULL};
		int rc = run_tarn(c, &c->src, v->base[0] ? inc : full, &out, "zfs send -nvP");
		if (rc == 0)
			rc = parse_estimate(out, &v->est);
		free(out);
		if (rc < 0)
			return vm_fail(c, BACKUP_VM_FAILED, "estimate", "%s", terr_msg());
		c->r->estimate += v->est;
	}
	return 0;
}

/* Dry run: what a run would send, from `written@base` / `referenced` (no snapshot is made). */
static int estimate_dry(ctx_t *c, const backup_list_t *sl)
{
	c->r->estimate = 0;
	for (int i = 0; i < c->nvols; i++) {
		vol_t *v = &c->vols[i];
		if (!v->base[0]) {
			backup_ds_t *d = backup_list_find(sl, v->src);
			v->est = d ? d->refer : 0;
		} else {
			char prop[NAME_MAXLEN + 16], *out = NULL;
			snprintf(prop, sizeof(prop), "written@%s", v->base);
			const char *args[] = {"zfs", "get", "-Hp", "-o", "value", prop, v->src, NULL};
			int rc = run_tarn(c, &c->src, args, &out, "zfs get");
			if (rc == 0) {
				out[strcspn(out, "\n")] = 0;
				if (parse_u64(out, &v->est) < 0)
					rc = terr(EIO, "zfs get %s: unexpected output", prop);
			}
			free(out);
			if (rc < 0)
				return vm_fail(c, BACKUP_VM_FAILED, "estimate", "%s", terr_msg());
		}
		c->r->estimate += v->est;
	}
	return 0;
}

static int room(ctx_t *c, const backup_list_t *dl)
{
	backup_ds_t *d = backup_list_find(dl, c->dvm);
	if (!d)
		d = backup_list_find(dl, c->j->dest);
	c->r->available = d ? d->avail : 0;
	c->r->needed = c->r->estimate + c->r->estimate / 100 * c->j->margin_pct +
		       c->r->estimate % 100 * c->j->margin_pct / 100;
	c->r->room_checked = 1;
	char n[32], a[32];
	backup_bytes(c->r->needed, n, sizeof(n));
	backup_bytes(c->r->available, a, sizeof(a));
	logf_(c, "Needed room: %s, Available room: %s", n, a);
	if (c->r->needed > c->r->available)
		return vm_fail(c, BACKUP_VM_SKIPPED, "room",
			       "not enough room on the destination: Needed room %s (estimate + %u%%) > Available room %s; "
			       "VM skipped",
			       n, c->j->margin_pct, a);
	return 0;
}

/* zfs create every missing container on the way to each volume's destination. */
static int containers(ctx_t *c, backup_list_t *dl)
{
	for (int i = 0; i < c->nvols; i++) {
		char path[NAME_MAXLEN];
		snprintf(path, sizeof(path), "%s", c->vols[i].dst);
		size_t dl0 = strlen(c->j->dest);
		for (char *p = path + dl0 + 1; (p = strchr(p, '/')); p++) {
			*p = 0;
			if (!backup_list_find(dl, path)) {
				const char *args[] = {"zfs", "create", path, NULL};
				if (run_tarn(c, &c->j->dside, args, NULL, "zfs create") < 0)
					return vm_fail(c, BACKUP_VM_FAILED, "destination", "%s", terr_msg());
				if (GROW(dl->ds, dl->cap, dl->n, 32) < 0 || !(dl->ds[dl->n].name = strdup(path)))
					return vm_fail(c, BACKUP_VM_FAILED, "destination", "out of memory");
				dl->ds[dl->n].type = 'f';
				dl->ds[dl->n].token = NULL;
				dl->n++;
			}
			*p = '/';
		}
	}
	return 0;
}

static int send_all(ctx_t *c, const char *snap)
{
	for (int i = 0; i < c->nvols; i++) {
		vol_t *v = &c->vols[i];
		char to[NAME_MAXLEN * 2], from[NAME_MAXLEN + 2], label[NAME_MAXLEN + 8];
		snprintf(to, sizeof(to), "%s@%s", v->src, snap);
		snprintf(from, sizeof(from), "@%s", v->base);
		snprintf(label, sizeof(label), "%s/%s", c->r->vm, v->rel);
		const char *full[] = {"zfs", "send", "-c", to, NULL};
		const char *inc[] = {"zfs", "send", "-c", "-i", from, to, NULL};
		const char *rargs[] = {"zfs", "receive", "-s", "-u", v->dst, NULL};
		const char *rargsF[] = {"zfs", "receive", "-s", "-u", "-F", v->dst, NULL};
		logf_(c, "send %s %s%s -> %s", to, v->base[0] ? "incremental from @" : "full", v->base, v->dst);
		backup_xfer_t x;
		int rc = transfer(c, &c->src, v->base[0] ? inc : full, &c->j->dside,
				  v->base[0] && c->j->rollback_dest ? rargsF : rargs, v->est, label, &x);
		c->r->sent += x.bytes;
		if (rc < 0)
			return vm_fail(c, BACKUP_VM_FAILED, "send", "%s -> %s: %s; the next run resumes or retries it", to,
				       v->dst, terr_msg());
	}
	return 0;
}

static int verify(ctx_t *c, const char *snap, const backup_list_t *sl)
{
	backup_list_t dl;
	if (backup_list(&c->j->dside, c->dvm, &dl) < 0)
		return vm_fail(c, BACKUP_VM_FAILED, "verify", "%s", terr_msg());
	int rc = 0;
	c->r->size = 0;
	for (int i = 0; i < c->nvols && rc == 0; i++) {
		vol_t *v = &c->vols[i];
		char s[NAME_MAXLEN * 2], d[NAME_MAXLEN * 2];
		snprintf(s, sizeof(s), "%s@%s", v->src, snap);
		snprintf(d, sizeof(d), "%s@%s", v->dst, snap);
		backup_ds_t *ss = backup_list_find(sl, s), *ds = backup_list_find(&dl, d);
		if (!ss || !ds)
			rc = vm_fail(c, BACKUP_VM_FAILED, "verify", "%s is missing after the transfer", ss ? d : s);
		else if (ss->guid != ds->guid)
			rc = vm_fail(c, BACKUP_VM_FAILED, "verify", "%s has guid %llu, the source %llu", d,
				     (unsigned long long)ds->guid, (unsigned long long)ss->guid);
		else
			c->r->size += ss->refer;
		if (rc == 0 && c->j->verify == BACKUP_VERIFY_FULL) {
			backup_cmd_t a = {0}, b = {0};
			const char *ra[] = {"volume", "read", s, NULL}, *rb[] = {"volume", "read", d, NULL};
			uint64_t n = 0;
			int r2 = backup_side_cmd(&c->src, &a, ra);
			if (r2 == 0)
				r2 = backup_side_cmd(&c->j->dside, &b, rb);
			if (r2 == 0)
				r2 = backup_compare(&a, &b, &n);
			backup_cmd_free(&a);
			backup_cmd_free(&b);
			if (r2 < 0)
				rc = vm_fail(c, BACKUP_VM_FAILED, "verify", "full verify of %s: %s", d, terr_msg());
			else
				logf_(c, "verified %s: %llu bytes equal to the source", d, (unsigned long long)n);
		}
	}
	backup_list_free(&dl);
	if (rc == 0)
		logf_(c, "verified %d volume(s) by guid%s", c->nvols, c->j->verify == BACKUP_VERIFY_FULL ? " and content" : "");
	return rc;
}

/* Retention over this job's snapshots named in names[] (with times); returns the prune list. */
static int decide(const backup_keep_t *k, char **names, int64_t *times, int n, const char *protect, char ***out,
		  int *nout)
{
	int *prot = calloc((size_t)n + 1, sizeof(int)), *keep = calloc((size_t)n + 1, sizeof(int));
	int rc = 0;
	if (!prot || !keep)
		rc = terr(ENOMEM, "out of memory");
	for (int i = 0; i < n && rc == 0; i++)
		prot[i] = protect && !strcmp(names[i], protect);
	if (rc == 0)
		backup_retention(k, n, times, prot, keep);
	for (int i = 0; i < n && rc == 0; i++)
		if (!keep[i])
			rc = add_name(out, nout, names[i]);
	free(prot);
	free(keep);
	return rc;
}

static void prune(ctx_t *c, const char *keepsnap, int dry)
{
	/* source: the VM container's snapshots of this job */
	backup_list_t sl, dl;
	char **names = NULL, **pr = NULL;
	int64_t *times = NULL;
	int n = 0, npr = 0;
	if (backup_list(&c->src, c->vmds, &sl) < 0) {
		vm_warn(c, "prune: %s", terr_msg());
		return;
	}
	for (int i = 0; i < sl.n; i++) {
		const char *sn = snap_of(sl.ds[i].name, c->vmds);
		if (!sn || !job_snap(c->j->name, sn))
			continue;
		int64_t *nt = realloc(times, (size_t)(n + 1) * sizeof(*nt));
		if (!nt || (times = nt, add_name(&names, &n, sn) < 0))
			break;
		times[n - 1] = sl.ds[i].creation;
	}
	if (decide(&c->j->keep_src, names, times, n, keepsnap, &pr, &npr) == 0)
		for (int i = 0; i < npr; i++) {
			char full[NAME_MAXLEN * 2];
			snprintf(full, sizeof(full), "%s@%s", c->vmds, pr[i]);
			const char *args[] = {"zfs", "destroy", "-r", full, NULL};
			if (!dry && run_tarn(c, &c->src, args, NULL, "zfs destroy") < 0) {
				vm_warn(c, "prune on the source: %s", terr_msg());
				continue;
			}
			add_name(&c->r->pruned_src, &c->r->npruned_src, pr[i]);
		}
	for (int i = 0; i < npr; i++)
		free(pr[i]);
	free(pr);
	pr = NULL;
	npr = 0;
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(times);
	names = NULL;
	times = NULL;
	n = 0;
	backup_list_free(&sl);

	/* destination: snapshot names of this job on any of the VM's volumes */
	int rc = backup_list(&c->j->dside, c->dvm, &dl);
	if (rc == -ENOENT)
		return;
	if (rc < 0) {
		vm_warn(c, "prune: %s", terr_msg());
		return;
	}
	for (int i = 0; i < dl.n; i++) {
		const char *at = strchr(dl.ds[i].name, '@');
		if (dl.ds[i].type != 's' || !at || !job_snap(c->j->name, at + 1))
			continue;
		int dup = 0;
		for (int k = 0; k < n && !dup; k++)
			dup = !strcmp(names[k], at + 1);
		if (dup)
			continue;
		int64_t *nt = realloc(times, (size_t)(n + 1) * sizeof(*nt));
		if (!nt || (times = nt, add_name(&names, &n, at + 1) < 0))
			break;
		times[n - 1] = dl.ds[i].creation;
	}
	if (decide(&c->j->keep_dest, names, times, n, keepsnap, &pr, &npr) == 0 && npr) {
		/* one destroy per dataset that has any of them: ds@a,b,c */
		for (int i = 0; i < dl.n; i++) {
			if (dl.ds[i].type != 'v')
				continue;
			char *arg = NULL;
			size_t al = 0;
			FILE *m = open_memstream(&arg, &al);
			int cnt = 0;
			if (!m)
				break;
			fputs(dl.ds[i].name, m);
			for (int p = 0; p < npr; p++) {
				char full[NAME_MAXLEN * 2];
				snprintf(full, sizeof(full), "%s@%s", dl.ds[i].name, pr[p]);
				if (backup_list_find(&dl, full))
					fprintf(m, "%c%s", cnt++ ? ',' : '@', pr[p]);
			}
			fclose(m);
			const char *args[] = {"zfs", "destroy", arg, NULL};
			if (cnt && !dry && run_tarn(c, &c->j->dside, args, NULL, "zfs destroy") < 0)
				vm_warn(c, "prune on the destination: %s", terr_msg());
			free(arg);
		}
		for (int p = 0; p < npr; p++)
			add_name(&c->r->pruned_dest, &c->r->npruned_dest, pr[p]);
	}
	for (int i = 0; i < npr; i++)
		free(pr[i]);
	free(pr);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(times);
	backup_list_free(&dl);
	if (c->r->npruned_src || c->r->npruned_dest)
		logf_(c, "%spruned %d snapshot(s) on the source, %d on the destination", dry ? "would have " : "",
		      c->r->npruned_src, c->r->npruned_dest);
}

static void backup_vm(const backup_job_t *j, const backup_opts_t *o, backup_vm_result_t *r)
{
	ctx_t c = {.j = j, .o = o, .r = r};
	backup_list_t sl = {0}, dl = {0};
	char snap[NAME_MAXLEN];
	uint64_t t0 = now_ns();
	c.src.tarn = (char *)backup_tarn_bin();
	if ((size_t)snprintf(c.vmds, sizeof(c.vmds), "%s/%s", j->vm_root, r->vm) >= sizeof(c.vmds) ||
	    (size_t)snprintf(c.dvm, sizeof(c.dvm), "%s/%s", j->dest, r->vm) >= sizeof(c.dvm)) {
		vm_fail(&c, BACKUP_VM_FAILED, "lookup", "dataset name too long");
		goto out;
	}
	if (backup_list(&c.src, c.vmds, &sl) < 0) {
		if (terr_code() == ENOENT)
			vm_fail(&c, BACKUP_VM_FAILED, "lookup", "VM '%s' not found: dataset '%s' does not exist", r->vm, c.vmds);
		else
			vm_fail(&c, BACKUP_VM_FAILED, "lookup", "%s", terr_msg());
		goto out;
	}
	if (find_vols(&c, &sl) < 0)
		goto out;
	if (backup_list(&j->dside, j->dest, &dl) < 0) {
		vm_fail(&c, BACKUP_VM_FAILED, "destination", "%s%s%s", terr_msg(), j->dside.remote ? " on " : "",
			j->dside.remote ? j->dside.host : "");
		goto out;
	}
	if (!o->dry_run) {
		int rs = resume(&c, &dl);
		if (rs < 0)
			goto out;
		if (rs > 0) {
			backup_list_free(&dl);
			if (backup_list(&j->dside, j->dest, &dl) < 0) {
				vm_fail(&c, BACKUP_VM_FAILED, "destination", "%s", terr_msg());
				goto out;
			}
		}
	}
	if (plan(&c, &sl, &dl) < 0)
		goto out;
	if (o->dry_run) {
		if (estimate_dry(&c, &sl) < 0)
			goto out;
		for (int i = 0; i < c.nvols; i++)
			logf_(&c, "would send %s %s%s -> %s (about %llu bytes)", c.vols[i].src,
			      c.vols[i].base[0] ? "incremental from @" : "full", c.vols[i].base, c.vols[i].dst,
			      (unsigned long long)c.vols[i].est);
		if (room(&c, &dl) < 0)
			goto out;
		snapname(j->name, snap, sizeof(snap));
		r->snapshot = strdup(snap);
		prune(&c, c.vols[0].base[0] ? c.vols[0].base : NULL, 1);
		goto out;
	}
	if (j->pre_hook && run_hook(&c, "pre-snapshot", j->pre_hook, "", 0) < 0)
		goto out;
	int snap_rc = take_snapshot(&c, &sl, snap, sizeof(snap));
	if (j->post_hook) /* also after a failed snapshot (to thaw what the pre-hook froze) */
		run_hook(&c, "post-snapshot", j->post_hook, snap_rc == 0 ? snap : "", 1);
	if (snap_rc < 0)
		goto out;
	backup_list_free(&sl);
	if (backup_list(&c.src, c.vmds, &sl) < 0) {
		vm_fail(&c, BACKUP_VM_FAILED, "snapshot", "%s", terr_msg());
		goto out;
	}
	for (int i = 0; i < c.nvols; i++)
		if (c.vols[i].base[0]) {
			free(r->base);
			r->base = strdup(c.vols[i].base);
		}
	if (estimate(&c, snap) < 0 || room(&c, &dl) < 0) {
		drop_snapshot(&c, snap);
		goto out;
	}
	if (containers(&c, &dl) < 0 || send_all(&c, snap) < 0 || verify(&c, snap, &sl) < 0)
		goto out;
	prune(&c, snap, 0);
out:
	r->ns = now_ns() - t0;
	backup_list_free(&sl);
	backup_list_free(&dl);
	free(c.vols);
	if (!r->error) {
		char s[32], d[32];
		backup_bytes(r->sent, s, sizeof(s));
		backup_bytes(r->size, d, sizeof(d));
		logf_(&c, "%s: %s sent, %s in the snapshot, %.1f s", o->dry_run ? "dry run done" : "backed up", s, d,
		      r->ns / 1e9);
	}
}

/* The VMs of vm-root: its direct children that are filesystems. */
static int all_vms(const backup_job_t *j, char ***out, int *n)
{
	backup_side_t src = {.tarn = (char *)backup_tarn_bin()};
	backup_list_t l;
	int rc = backup_list(&src, j->vm_root, &l);
	if (rc < 0)
		return terr_prefix(rc, "vm-root");
	size_t rl = strlen(j->vm_root);
	for (int i = 0; i < l.n && rc == 0; i++) {
		const char *nm = l.ds[i].name;
		if (l.ds[i].type == 'f' && !strncmp(nm, j->vm_root, rl) && nm[rl] == '/' && !strchr(nm + rl + 1, '/'))
			rc = add_name(out, n, nm + rl + 1);
	}
	backup_list_free(&l);
	if (rc == 0 && *n == 0)
		rc = terr(ENOENT, "vm-root %s holds no VM containers", j->vm_root);
	return rc;
}

int backup_run_ok(const backup_run_t *r)
{
	if (r->error)
		return 0;
	for (int i = 0; i < r->nvms; i++)
		if (r->vms[i].status != BACKUP_VM_OK)
			return 0;
	return 1;
}

void backup_run_free(backup_run_t *r)
{
	for (int i = 0; i < r->nvms; i++) {
		backup_vm_result_t *v = &r->vms[i];
		free(v->vm);
		free(v->error);
		free(v->warning);
		free(v->snapshot);
		free(v->base);
		for (int k = 0; k < v->npruned_src; k++)
			free(v->pruned_src[k]);
		for (int k = 0; k < v->npruned_dest; k++)
			free(v->pruned_dest[k]);
		free(v->pruned_src);
		free(v->pruned_dest);
	}
	free(r->vms);
	free(r->error);
	free(r->mail_error);
	memset(r, 0, sizeof(*r));
}

int backup_run(const backup_job_t *j, const backup_opts_t *o, backup_run_t *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->job, sizeof(r->job), "%s", j->name);
	if (gethostname(r->host, sizeof(r->host) - 1) < 0)
		snprintf(r->host, sizeof(r->host), "localhost");
	if (j->dside.remote)
		snprintf(r->dest, sizeof(r->dest), "ssh://%s%s%s%s%u/%s", j->dside.user ? j->dside.user : "",
			 j->dside.user ? "@" : "", j->dside.host, j->dside.port ? ":" : "", j->dside.port, j->dest);
	else
		snprintf(r->dest, sizeof(r->dest), "%s", j->dest);
	if (j->dside.remote && !j->dside.port) /* drop the ":0" written above */
		snprintf(r->dest, sizeof(r->dest), "ssh://%s%s%s/%s", j->dside.user ? j->dside.user : "",
			 j->dside.user ? "@" : "", j->dside.host, j->dest);
	r->dry_run = o->dry_run;
	r->start = now_epoch();
	int lock = backup_lock(j->name);
	if (lock < 0)
		return lock;
	char **names = NULL;
	int n = 0, rc = 0;
	if (j->all_vms)
		rc = all_vms(j, &names, &n);
	else
		for (int i = 0; i < j->nvms && rc == 0; i++)
			rc = add_name(&names, &n, j->vms[i]);
	if (rc < 0) {
		r->error = strdup(terr_msg());
	} else if (!(r->vms = calloc((size_t)n, sizeof(*r->vms)))) {
		rc = terr(ENOMEM, "out of memory");
		r->error = strdup(terr_msg());
	} else {
		r->cap = n;
		for (int i = 0; i < n; i++) {
			backup_vm_result_t *v = &r->vms[r->nvms++];
			v->vm = xstrdup(names[i]);
			if (!v->vm) {
				r->nvms--;
				continue;
			}
			backup_vm(j, o, v);
		}
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	r->end = now_epoch();
	if (!o->dry_run) {
		int mr = 0;
		if (j->nmail_to && (j->mail_on == BACKUP_MAIL_ALWAYS ||
				    (j->mail_on == BACKUP_MAIL_FAILURE && !backup_run_ok(r)))) {
			mr = backup_mail(j, r);
			if (mr < 0) {
				r->mail_error = strdup(terr_msg());
				if (o->log)
					fprintf(o->log, "mail: cannot send the report: %s\n", terr_msg());
			} else {
				r->mail_sent = 1;
				if (o->log)
					fprintf(o->log, "mail: report sent to %d recipient(s)\n", j->nmail_to);
			}
		}
		if (backup_status_write(j, r) < 0 && o->log)
			fprintf(o->log, "status: %s\n", terr_msg());
	}
	close(lock);
	return rc;
}
