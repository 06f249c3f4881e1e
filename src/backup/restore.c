/* backup/restore.c — bring a VM's backup back: every volume of DEST/VM that has @SNAP is sent
 * from the destination side and received on this host under the target container. With force
 * and an existing target, the copy is received beside it first and swapped in only when all of
 * it arrived (destroy the old one, rename the new one). */
#include "backup/backup.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/timefmt.h"

static int local_tarn(const char *const *args, const char *what)
{
	backup_side_t src = {.tarn = (char *)backup_tarn_bin()};
	return backup_tarn(&src, args, NULL, what);
}

/* Create `path` and its missing parents below an existing ancestor (per the listing `have`). */
static int mkcontainers(const backup_list_t *have, const char *path, size_t from)
{
	char p[NAME_MAXLEN];
	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + from;; s++) {
		s = strchr(s, '/');
		if (s)
			*s = 0;
		if (!backup_list_find(have, p)) {
			const char *args[] = {"zfs", "create", p, NULL};
			TRY(local_tarn(args, "zfs create"));
		}
		if (!s)
			break;
		*s = '/';
	}
	return 0;
}

int backup_restore(const backup_job_t *j, const char *vm, const char *snap, const char *to, int force,
		   const backup_opts_t *o)
{
	char dvm[NAME_MAXLEN], target[NAME_MAXLEN], tmp[NAME_MAXLEN], parent[NAME_MAXLEN];
	backup_side_t src = {.tarn = (char *)backup_tarn_bin()};
	backup_list_t dl = {0}, sl = {0};
	int rc = 0, found = 0;

	if ((size_t)snprintf(dvm, sizeof(dvm), "%s/%s", j->dest, vm) >= sizeof(dvm))
		return terr(EINVAL, "name too long");
	if (to)
		rc = name_check(to, NAME_DATASET) < 0 ? terr_prefix(-EINVAL, "--to %s", to) : 0;
	else if ((size_t)snprintf(target, sizeof(target), "%s/%s", j->vm_root, vm) >= sizeof(target))
		rc = terr(EINVAL, "name too long");
	TRY(rc);
	if (to)
		snprintf(target, sizeof(target), "%s", to);
	if (strlen(target) + 40 >= NAME_MAXLEN)
		return terr(EINVAL, "target name %s is too long", target);
	if (!strchr(target, '/'))
		return terr(EINVAL, "the target must be a dataset below a pool, not a pool");
	snprintf(parent, sizeof(parent), "%s", target);
	*strrchr(parent, '/') = 0;

	rc = backup_list(&j->dside, dvm, &dl);
	if (rc == -ENOENT)
		return terr(ENOENT, "no backups of VM '%s' on the destination (%s does not exist)", vm, dvm);
	TRY(rc);
	rc = backup_list(&src, parent, &sl);
	if (rc < 0) {
		backup_list_free(&dl);
		return rc == -ENOENT ? terr(ENOENT, "the target's parent %s does not exist", parent) : rc;
	}
	int exists = backup_list_find(&sl, target) != NULL;
	if (exists && !force) {
		rc = terr(EEXIST, "%s exists; restore to another dataset with --to, or replace it with --force", target);
		goto out;
	}
	if (exists)
		snprintf(tmp, sizeof(tmp), "%s.restore-%lld", target, (long long)now_epoch());
	else
		snprintf(tmp, sizeof(tmp), "%s", target);
	if (backup_list_find(&sl, tmp)) {
		rc = terr(EEXIST, "%s exists (an earlier restore?); remove it first", tmp);
		goto out;
	}

	size_t dl0 = strlen(dvm);
	for (int i = 0; i < dl.n && rc == 0; i++) {
		const backup_ds_t *d = &dl.ds[i];
		if (d->type != 'v' || strncmp(d->name, dvm, dl0) || d->name[dl0] != '/')
			continue;
		char from[NAME_MAXLEN * 2], dst[NAME_MAXLEN * 2];
		snprintf(from, sizeof(from), "%s@%s", d->name, snap);
		if (!backup_list_find(&dl, from))
			continue;
		snprintf(dst, sizeof(dst), "%s/%s", tmp, d->name + dl0 + 1);
		if (strlen(dst) >= NAME_MAXLEN) {
			rc = terr(EINVAL, "%s: name too long", dst);
			break;
		}
		char dstparent[NAME_MAXLEN];
		snprintf(dstparent, sizeof(dstparent), "%s", dst);
		*strrchr(dstparent, '/') = 0;
		found = 1;
		backup_list_free(&sl);
		if ((rc = backup_list(&src, parent, &sl)) < 0 || (rc = mkcontainers(&sl, dstparent, strlen(parent) + 1)) < 0)
			break;
		backup_cmd_t s = {0}, r = {0};
		const char *sargs[] = {"zfs", "send", from, NULL};
		const char *rargs[] = {"zfs", "receive", "-u", dst, NULL};
		backup_xfer_t x;
		if (o->log)
			fprintf(o->log, "%s: restore %s -> %s\n", vm, from, dst);
		rc = backup_side_cmd(&j->dside, &s, sargs);
		if (rc == 0)
			rc = backup_side_cmd(&src, &r, rargs);
		if (rc == 0)
			rc = backup_transfer(&s, &r, d->refer, d->name + dl0 + 1, o->progress, &x);
		backup_cmd_free(&s);
		backup_cmd_free(&r);
	}
	if (rc == 0 && !found)
		rc = terr(ENOENT, "VM '%s' has no backup @%s on the destination", vm, snap);
	if (rc < 0) {
		if (found && o->log)
			fprintf(o->log, "%s: restore failed; the partial copy is in %s\n", vm, tmp);
		goto out;
	}
	if (exists) {
		const char *dargs[] = {"zfs", "destroy", "-r", target, NULL};
		const char *rargs[] = {"zfs", "rename", tmp, target, NULL};
		if ((rc = local_tarn(dargs, "zfs destroy")) < 0) {
			terr_prefix(rc, "the restored copy is in %s, but replacing %s failed", tmp, target);
			goto out;
		}
		if ((rc = local_tarn(rargs, "zfs rename")) < 0) {
			terr_prefix(rc, "the restored copy is in %s (the old %s is gone)", tmp, target);
			goto out;
		}
	}
	if (o->log)
		fprintf(o->log, "%s: restored @%s to %s\n", vm, snap, target);
out:
	backup_list_free(&dl);
	backup_list_free(&sl);
	return rc;
}
