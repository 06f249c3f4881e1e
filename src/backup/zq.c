/* backup/zq.c — asking tarn (local or remote) about datasets: `zfs list -Hp` parsed strictly,
 * and running one tarn command with its error turned into a message. */
#include "backup/backup.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/grow.h"
#include "util/strnum.h"

#define LIST_PROPS "name,type,guid,createtxg,creation,available,used,referenced,written,receive_resume_token"
#define LIST_NF 10

void backup_list_free(backup_list_t *l)
{
	for (int i = 0; i < l->n; i++) {
		free(l->ds[i].name);
		free(l->ds[i].token);
	}
	free(l->ds);
	memset(l, 0, sizeof(*l));
}

backup_ds_t *backup_list_find(const backup_list_t *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->ds[i].name, name))
			return &l->ds[i];
	return NULL;
}

static int num(const char *s, uint64_t *v)
{
	if (!strcmp(s, "-")) {
		*v = 0;
		return 0;
	}
	return parse_u64(s, v);
}

static int parse_line(char *line, backup_ds_t *d)
{
	char *f[LIST_NF];
	int nf = 0;
	for (char *p = line;; p++) {
		if (nf == LIST_NF)
			return -EINVAL;
		f[nf++] = p;
		p = strchr(p, '\t');
		if (!p)
			break;
		*p = 0;
	}
	if (nf != LIST_NF || !*f[0] || strlen(f[0]) >= NAME_MAXLEN)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	if (!strcmp(f[1], "filesystem"))
		d->type = 'f';
	else if (!strcmp(f[1], "volume"))
		d->type = 'v';
	else if (!strcmp(f[1], "snapshot"))
		d->type = 's';
	else
		return -EINVAL;
	uint64_t cr;
	if (num(f[2], &d->guid) < 0 || num(f[3], &d->createtxg) < 0 || num(f[4], &cr) < 0 ||
	    num(f[5], &d->avail) < 0 || num(f[6], &d->used) < 0 || num(f[7], &d->refer) < 0 ||
	    num(f[8], &d->written) < 0 || cr > INT64_MAX)
		return -EINVAL;
	d->creation = (int64_t)cr;
	if ((d->type == 's') != (strchr(f[0], '@') != NULL))
		return -EINVAL;
	if (!(d->name = strdup(f[0])))
		return -ENOMEM;
	if (strcmp(f[9], "-") && strcmp(f[9], "")) {
		if (strlen(f[9]) > 65536 || strspn(f[9], "0123456789abcdefABCDEF-") != strlen(f[9]) ||
		    !(d->token = strdup(f[9]))) {
			free(d->name);
			return -EINVAL;
		}
	}
	return 0;
}

int backup_tarn(const backup_side_t *s, const char *const *args, char **out, const char *what)
{
	backup_cmd_t c = {0};
	char *err = NULL, line[512];
	if (out)
		*out = NULL;
	int rc = backup_side_cmd(s, &c, args);
	if (rc == 0)
		rc = backup_exec(&c, out, &err);
	backup_cmd_free(&c);
	if (rc > 0) {
		backup_errline(err, line, sizeof(line));
		rc = terr(strstr(line, "does not exist") ? ENOENT : EIO, "%s: %s", what,
			  line[0] ? line : "failed with no message");
		if (out) {
			free(*out);
			*out = NULL;
		}
	} else if (rc < 0)
		terr_prefix(rc, "%s", what);
	free(err);
	return rc;
}

int backup_list(const backup_side_t *s, const char *root, backup_list_t *l)
{
	char *out = NULL;
	const char *args[] = {"zfs", "list", "-Hp", "-t", "all", "-r", "-o", LIST_PROPS, root, NULL};
	memset(l, 0, sizeof(*l));
	int rc = backup_tarn(s, args, &out, "zfs list");
	if (rc == -ENOENT)
		return terr(ENOENT, "dataset '%s' does not exist", root);
	TRY(rc);
	char *save = NULL;
	int lineno = 0;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		if ((rc = GROW(l->ds, l->cap, l->n, 32)) < 0)
			break;
		rc = parse_line(line, &l->ds[l->n]);
		if (rc < 0) {
			rc = rc == -ENOMEM ? terr(ENOMEM, "out of memory")
					   : terr(EIO, "zfs list %s: unexpected output on line %d", root, lineno);
			break;
		}
		l->n++;
	}
	free(out);
	if (rc < 0)
		backup_list_free(l);
	return rc;
}
