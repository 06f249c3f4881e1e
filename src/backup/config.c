/* backup/config.c — job settings: one table of keys shared by job files ([job] section, INI)
 * and --key=value flags; a strict parser (unknown key, bad value, duplicate key, stray text:
 * "FILE:LINE: ..."); state and job directories; the tarn binary to run. */
#include "backup/backup.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pool/known.h"
#include "util/err.h"
#include "util/grow.h"
#include "util/strnum.h"

void backup_job_init(backup_job_t *j)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->name, sizeof(j->name), "backup");
	j->verify = BACKUP_VERIFY_GUID;
	j->margin_pct = 10;
	j->mail_on = BACKUP_MAIL_ALWAYS;
}

static void free_list(char **l, int n)
{
	for (int i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void backup_job_free(backup_job_t *j)
{
	free_list(j->vms, j->nvms);
	free_list(j->mail_to, j->nmail_to);
	free(j->dside.user);
	free(j->dside.host);
	free(j->dside.ssh_key);
	free(j->dside.ssh_options);
	free(j->dside.tarn);
	free(j->remote_tarn);
	free(j->pre_hook);
	free(j->post_hook);
	free(j->prometheus_file);
	free(j->mail_from);
	free(j->smtp_server);
	free(j->smtp_user);
	free(j->smtp_password_file);
	free(j->smtp_ca_file);
	memset(j, 0, sizeof(*j));
}

/* ---- value parsers ---- */

static int set_str(char **dst, const char *v)
{
	char *s = strdup(v);
	if (!s)
		return terr(ENOMEM, "out of memory");
	free(*dst);
	*dst = s;
	return 0;
}

static int printable(const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int choose(const char *v, const char *const *names, int *out)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(v, names[i])) {
			*out = i;
			return 0;
		}
	char all[128] = "";
	for (int i = 0; names[i]; i++)
		snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", i ? ", " : "", names[i]);
	return terr(EINVAL, "must be one of: %s", all);
}

static int yesno(const char *v, int *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "true")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "false")) {
		*out = 0;
		return 0;
	}
	return terr(EINVAL, "must be yes or no");
}

static int dataset_name(const char *v, char *dst)
{
	if (strlen(v) >= NAME_MAXLEN)
		return terr(EINVAL, "name is too long");
	TRY(name_check(v, NAME_DATASET));
	strcpy(dst, v);
	return 0;
}

/* A VM name: one dataset name component. */
static int vm_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > 200 || (len <= 2 && !strncmp(s, "..", len)))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_' || c == '.' || c == ':'))
			return 0;
	}
	return 1;
}

/* Split a comma list into a new array; each item checked by ok (may be NULL). */
static int split_list(const char *v, char ***out, int *nout, int (*ok)(const char *, size_t), const char *what)
{
	char **l = NULL;
	int n = 0, cap = 0;
	const char *p = v;
	for (;;) {
		while (*p == ' ')
			p++;
		size_t len = strcspn(p, ",");
		size_t tl = len;
		while (tl && p[tl - 1] == ' ')
			tl--;
		if (!tl || (ok && !ok(p, tl)) || GROW(l, cap, n, 8) < 0) {
			int rc = tl && (!ok || ok(p, tl)) ? -ENOMEM
							  : terr(EINVAL, "bad %s '%.*s'", what, (int)(tl > 60 ? 60 : tl), p);
			free_list(l, n);
			return rc;
		}
		for (int i = 0; i < n; i++)
			if (strlen(l[i]) == tl && !memcmp(l[i], p, tl)) {
				free_list(l, n);
				return terr(EINVAL, "%s '%.*s' listed twice", what, (int)(tl > 60 ? 60 : tl), p);
			}
		if (!(l[n] = strndup(p, tl))) {
			free_list(l, n);
			return terr(ENOMEM, "out of memory");
		}
		n++;
		p += len;
		if (!*p)
			break;
		p++;
	}
	*out = l;
	*nout = n;
	return 0;
}

static int mail_ok(const char *s, size_t len)
{
	const char *at = memchr(s, '@', len);
	if (!at || at == s || at == s + len - 1 || len > 254)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || strchr("<>()[]\\;:\",", s[i]))
			return 0;
	return 1;
}

static int host_ok(const char *s, size_t len)
{
	if (len == 0 || len > 253 || s[0] == '-')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      strchr(".-_:", s[i])))
			return 0;
	return 1;
}

static int user_ok(const char *s, size_t len)
{
	if (len == 0 || len > 64 || s[0] == '-')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      strchr(".-_", s[i])))
			return 0;
	return 1;
}

/* dest: DATASET or ssh://[USER@]HOST[:PORT]/DATASET (HOST may be [IPv6]). */
static int set_dest(backup_job_t *j, const char *v)
{
	backup_side_t *s = &j->dside;
	if (strncmp(v, "ssh://", 6)) {
		TRY(dataset_name(v, j->dest));
		free(s->user);
		free(s->host);
		s->user = s->host = NULL;
		s->remote = 0;
		s->port = 0;
		return 0;
	}
	const char *p = v + 6, *slash = strchr(p, '/');
	if (!slash)
		return terr(EINVAL, "ssh destination needs a dataset: ssh://[user@]host[:port]/pool/path");
	const char *at = memchr(p, '@', (size_t)(slash - p));
	char user[65] = "", host[256];
	unsigned port = 0;
	if (at) {
		if (!user_ok(p, (size_t)(at - p)))
			return terr(EINVAL, "bad ssh user '%.*s'", (int)((at - p) > 64 ? 64 : (at - p)), p);
		memcpy(user, p, (size_t)(at - p));
		user[at - p] = 0;
		p = at + 1;
	}
	const char *hend;
	if (*p == '[') {
		hend = memchr(p, ']', (size_t)(slash - p));
		if (!hend)
			return terr(EINVAL, "bad ssh host: missing ']'");
		p++;
	} else {
		hend = memchr(p, ':', (size_t)(slash - p));
		if (!hend)
			hend = slash;
	}
	if (!host_ok(p, (size_t)(hend - p)) || (size_t)(hend - p) >= sizeof(host))
		return terr(EINVAL, "bad ssh host '%.*s'", (int)((hend - p) > 64 ? 64 : (hend - p)), p);
	memcpy(host, p, (size_t)(hend - p));
	host[hend - p] = 0;
	const char *q = hend + (*hend == ']');
	if (q < slash) {
		if (*q != ':')
			return terr(EINVAL, "bad ssh host part '%.*s'", (int)(slash - v - 6), v + 6);
		char pb[8];
		uint64_t pv;
		size_t pl = (size_t)(slash - q - 1);
		if (pl == 0 || pl >= sizeof(pb))
			return terr(EINVAL, "bad ssh port");
		memcpy(pb, q + 1, pl);
		pb[pl] = 0;
		if (parse_u64(pb, &pv) < 0 || pv == 0 || pv > 65535)
			return terr(EINVAL, "bad ssh port '%s'", pb);
		port = (unsigned)pv;
	}
	TRY(dataset_name(slash + 1, j->dest));
	char *nu = user[0] ? strdup(user) : NULL, *nh = strdup(host);
	if (!nh || (user[0] && !nu)) {
		free(nu);
		free(nh);
		return terr(ENOMEM, "out of memory");
	}
	free(s->user);
	free(s->host);
	s->user = nu;
	s->host = nh;
	s->port = port;
	s->remote = 1;
	return 0;
}

/* ---- the key table ---- */

typedef struct key {
	const char *key, *arg, *help;
	int (*set)(backup_job_t *j, const char *v);
} key_t_;

#define SETTER(fn) static int fn(backup_job_t *j, const char *v)

SETTER(k_name)
{
	if (!vm_name_ok(v, strlen(v)) || strlen(v) >= BACKUP_JOB_NAME_MAX || strchr(v, ':'))
		return terr(EINVAL, "a job name is 1 to %d characters of A-Z a-z 0-9 - _ .", BACKUP_JOB_NAME_MAX - 1);
	snprintf(j->name, sizeof(j->name), "%s", v);
	j->have_name = 1;
	return 0;
}
SETTER(k_vm_root)
{
	TRY(dataset_name(v, j->vm_root));
	j->have_vm_root = 1;
	return 0;
}
SETTER(k_vms)
{
	char **l = NULL;
	int n = 0;
	if (!strcmp(v, "all")) {
		free_list(j->vms, j->nvms);
		j->vms = NULL;
		j->nvms = 0;
		j->all_vms = j->have_vms = 1;
		return 0;
	}
	TRY(split_list(v, &l, &n, vm_name_ok, "VM name"));
	free_list(j->vms, j->nvms);
	j->vms = l;
	j->nvms = n;
	j->all_vms = 0;
	j->have_vms = 1;
	return 0;
}
SETTER(k_dest)
{
	TRY(set_dest(j, v));
	j->have_dest = 1;
	return 0;
}
SETTER(k_ssh_key) { return set_str(&j->dside.ssh_key, v); }
SETTER(k_ssh_options)
{
	if (!printable(v))
		return terr(EINVAL, "control characters");
	return set_str(&j->dside.ssh_options, v);
}
SETTER(k_remote_tarn)
{
	if (!*v || !printable(v))
		return terr(EINVAL, "empty or control characters");
	return set_str(&j->remote_tarn, v);
}
SETTER(k_keep)
{
	backup_keep_t k;
	TRY(backup_keep_parse(v, &k));
	if (!j->keep_src_own)
		j->keep_src = k;
	if (!j->keep_dest_own)
		j->keep_dest = k;
	return 0;
}
SETTER(k_keep_src)
{
	TRY(backup_keep_parse(v, &j->keep_src));
	j->keep_src_own = 1;
	return 0;
}
SETTER(k_keep_dest)
{
	TRY(backup_keep_parse(v, &j->keep_dest));
	j->keep_dest_own = 1;
	return 0;
}
SETTER(k_verify) { return choose(v, (const char *const[]){"guid", "full", NULL}, &j->verify); }
SETTER(k_margin)
{
	uint64_t m;
	char buf[16];
	size_t l = strlen(v);
	if (l && v[l - 1] == '%')
		l--;
	if (l == 0 || l >= sizeof(buf))
		return terr(EINVAL, "a percentage from 0 to 1000");
	memcpy(buf, v, l);
	buf[l] = 0;
	if (parse_u64(buf, &m) < 0 || m > 1000)
		return terr(EINVAL, "a percentage from 0 to 1000");
	j->margin_pct = (unsigned)m;
	return 0;
}
SETTER(k_rollback) { return yesno(v, &j->rollback_dest); }
SETTER(k_pre) { return set_str(&j->pre_hook, v); }
SETTER(k_post) { return set_str(&j->post_hook, v); }
SETTER(k_prom)
{
	if (v[0] != '/')
		return terr(EINVAL, "an absolute path");
	return set_str(&j->prometheus_file, v);
}
SETTER(k_mail_to)
{
	char **l = NULL;
	int n = 0;
	TRY(split_list(v, &l, &n, mail_ok, "address"));
	free_list(j->mail_to, j->nmail_to);
	j->mail_to = l;
	j->nmail_to = n;
	return 0;
}
SETTER(k_mail_from)
{
	if (!mail_ok(v, strlen(v)))
		return terr(EINVAL, "not an address");
	return set_str(&j->mail_from, v);
}
SETTER(k_mail_on) { return choose(v, (const char *const[]){"always", "failure", "never", NULL}, &j->mail_on); }
SETTER(k_smtp_server)
{
	if (!host_ok(v, strlen(v)))
		return terr(EINVAL, "not a host name or address");
	return set_str(&j->smtp_server, v);
}
SETTER(k_smtp_port)
{
	uint64_t p;
	if (parse_u64(v, &p) < 0 || p == 0 || p > 65535)
		return terr(EINVAL, "a port from 1 to 65535");
	j->smtp_port = (unsigned)p;
	return 0;
}
SETTER(k_smtp_tls) { return choose(v, (const char *const[]){"none", "starttls", "smtps", NULL}, &j->smtp_tls); }
SETTER(k_smtp_auth) { return choose(v, (const char *const[]){"none", "plain", "login", NULL}, &j->smtp_auth); }
SETTER(k_smtp_user)
{
	if (!*v || !printable(v))
		return terr(EINVAL, "empty or control characters");
	return set_str(&j->smtp_user, v);
}
SETTER(k_smtp_pwfile)
{
	if (v[0] != '/')
		return terr(EINVAL, "an absolute path");
	return set_str(&j->smtp_password_file, v);
}
SETTER(k_smtp_ca)
{
	if (v[0] != '/')
		return terr(EINVAL, "an absolute path");
	return set_str(&j->smtp_ca_file, v);
}

static const key_t_ keys[] = {
	{"name", "NAME", "job name (snapshots are @tarn-NAME-<UTC time>); default: the job file's name, or \"backup\"",
	 k_name},
	{"vm-root", "DATASET", "dataset holding one container per VM (required)", k_vm_root},
	{"vms", "VM,VM,...|all", "VMs to back up: children of vm-root (required)", k_vms},
	{"dest", "DATASET|ssh://[USER@]HOST[:PORT]/DATASET",
	 "destination; backups go to DEST/VM/<volume> (required; DATASET must exist)", k_dest},
	{"ssh-key", "FILE", "ssh identity file (ssh -i)", k_ssh_key},
	{"ssh-options", "ARGS", "more ssh arguments, split at blanks (e.g. -o ConnectTimeout=10)", k_ssh_options},
	{"remote-tarn", "COMMAND", "how to run tarn on the ssh host (shell words; default: tarn)", k_remote_tarn},
	{"keep", "POLICY", "retention on both sides: N or last=N,hourly=N,daily=N,weekly=N,monthly=N,yearly=N "
			   "(default: keep all)",
	 k_keep},
	{"keep-source", "POLICY", "retention on the source only (overrides keep)", k_keep_src},
	{"keep-dest", "POLICY", "retention on the destination only (overrides keep)", k_keep_dest},
	{"verify", "guid|full", "check the received snapshot's guid, or also compare every byte (default guid)",
	 k_verify},
	{"room-margin", "PERCENT", "room check: need estimate + PERCENT (default 10)", k_margin},
	{"rollback-dest", "yes|no", "discard changes made on the destination since the last backup (receive -F; "
				    "default no: report them)",
	 k_rollback},
	{"pre-snapshot", "COMMAND", "run (sh -c) before a VM's snapshot; failing skips the VM", k_pre},
	{"post-snapshot", "COMMAND", "run after the snapshot (also when it failed)", k_post},
	{"prometheus-file", "PATH", "Prometheus textfile (default $TARN_HOME/backup/JOB.prom)", k_prom},
	{"mail-to", "ADDR,ADDR,...", "mail the report to these addresses", k_mail_to},
	{"mail-from", "ADDR", "sender address (default tarn@<hostname>)", k_mail_from},
	{"mail-on", "always|failure|never", "when to mail (default always)", k_mail_on},
	{"smtp-server", "HOST", "SMTP server (default localhost)", k_smtp_server},
	{"smtp-port", "PORT", "SMTP port (default 25, 465 with smtps)", k_smtp_port},
	{"smtp-tls", "none|starttls|smtps", "TLS (default none); starttls and smtps verify the certificate", k_smtp_tls},
	{"smtp-auth", "none|plain|login", "SMTP authentication (default none)", k_smtp_auth},
	{"smtp-user", "USER", "SMTP user name", k_smtp_user},
	{"smtp-password-file", "PATH", "file whose first line is the SMTP password (else $TARN_SMTP_PASSWORD)",
	 k_smtp_pwfile},
	{"smtp-ca-file", "PATH", "CA certificates to verify the SMTP server with (default: the system's)", k_smtp_ca},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

int backup_job_set(backup_job_t *j, const char *key, const char *value)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].key, key)) {
			if (strlen(value) > 4096)
				return terr(EINVAL, "bad value for '%s': too long", key);
			int rc = keys[i].set(j, value);
			if (rc < 0 && rc != -ENOMEM)
				return terr_prefix(rc, "bad value for '%s'", key);
			return rc;
		}
	return terr(EINVAL, "unknown key '%.64s'", key);
}

void backup_job_keys_help(FILE *f)
{
	for (size_t i = 0; i < NKEYS; i++)
		fprintf(f, "  %s = %s\n      %s\n", keys[i].key, keys[i].arg, keys[i].help);
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t l = strlen(s);
	while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r'))
		s[--l] = 0;
	return s;
}

int backup_job_load(backup_job_t *j, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return terr(errno, "cannot read job file %s: %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, section = 0, rc = 0;
	char seen[NKEYS] = {0};
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (len > 4200 || memchr(line, 0, (size_t)len)) {
			rc = terr(EINVAL, "%s:%d: line too long or not text", path, lineno);
			break;
		}
		line[strcspn(line, "\n")] = 0;
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			if (strcmp(s, "[job]")) {
				rc = terr(EINVAL, "%s:%d: unknown section '%.64s' (only [job])", path, lineno, s);
				break;
			}
			if (section) {
				rc = terr(EINVAL, "%s:%d: [job] given twice", path, lineno);
				break;
			}
			section = 1;
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = terr(EINVAL, "%s:%d: expected KEY = VALUE, got '%.64s'", path, lineno, s);
			break;
		}
		if (!section) {
			rc = terr(EINVAL, "%s:%d: KEY = VALUE before the [job] section", path, lineno);
			break;
		}
		*eq = 0;
		char *k = trim(s), *v = trim(eq + 1);
		size_t vl = strlen(v);
		if (vl >= 2 && ((v[0] == '"' && v[vl - 1] == '"') || (v[0] == '\'' && v[vl - 1] == '\''))) {
			v[vl - 1] = 0;
			v++;
		}
		size_t ki;
		for (ki = 0; ki < NKEYS; ki++)
			if (!strcmp(keys[ki].key, k))
				break;
		if (ki < NKEYS && seen[ki]) {
			rc = terr(EINVAL, "%s:%d: key '%s' given twice", path, lineno, k);
			break;
		}
		if (ki < NKEYS)
			seen[ki] = 1;
		rc = backup_job_set(j, k, v);
		if (rc < 0) {
			terr_prefix(rc, "%s:%d", path, lineno);
			break;
		}
	}
	if (rc == 0 && ferror(f))
		rc = terr(EIO, "cannot read job file %s", path);
	if (rc == 0 && !section)
		rc = terr(EINVAL, "%s: no [job] section", path);
	free(line);
	fclose(f);
	if (rc == 0 && !j->have_name) {
		const char *b = strrchr(path, '/');
		b = b ? b + 1 : path;
		size_t bl = strlen(b);
		if (bl > 5 && !strcmp(b + bl - 5, ".conf"))
			bl -= 5;
		char nm[BACKUP_JOB_NAME_MAX];
		if (bl == 0 || bl >= sizeof(nm))
			return terr(EINVAL, "%s: cannot make a job name of the file name; set name = ...", path);
		memcpy(nm, b, bl);
		nm[bl] = 0;
		rc = k_name(j, nm);
		if (rc < 0)
			return terr(EINVAL, "%s: the file name is not a job name (A-Z a-z 0-9 - _ .); set name = ...", path);
		j->have_name = 0;
	}
	return rc;
}

int backup_job_finish(backup_job_t *j)
{
	if (!j->have_vm_root)
		return terr(EINVAL, "missing required key 'vm-root' (--vm-root=DATASET)");
	if (!j->have_vms)
		return terr(EINVAL, "missing required key 'vms' (--vms=VM,VM|all)");
	if (!j->have_dest)
		return terr(EINVAL, "missing required key 'dest' (--dest=DATASET|ssh://...)");
	if (!j->dside.remote && !strcmp(j->dest, j->vm_root))
		return terr(EINVAL, "dest and vm-root are the same dataset");
	if (!j->dside.remote) {
		size_t l = strlen(j->vm_root);
		if (!strncmp(j->dest, j->vm_root, l) && j->dest[l] == '/')
			return terr(EINVAL, "dest must not be inside vm-root");
	}
	if (j->smtp_auth != BACKUP_AUTH_NONE && !j->smtp_user)
		return terr(EINVAL, "smtp-auth needs smtp-user");
	free(j->dside.tarn);
	j->dside.tarn = strdup(j->dside.remote ? (j->remote_tarn ? j->remote_tarn : "tarn") : backup_tarn_bin());
	if (!j->dside.tarn)
		return terr(ENOMEM, "out of memory");
	return 0;
}

const char *backup_job_dir(void)
{
	const char *d = getenv("TARN_JOB_DIR");
	return d && *d ? d : "/etc/tarn/jobs";
}

int backup_state_dir(char *buf, size_t len, int mk)
{
	const char *home = known_home();
	if ((size_t)snprintf(buf, len, "%s/backup", home) >= len)
		return terr(ENAMETOOLONG, "TARN_HOME is too long");
	if (!mk)
		return 0;
	if (mkdir(home, 0755) < 0 && errno != EEXIST)
		return terr(errno, "cannot create %s: %s", home, strerror(errno));
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return terr(errno, "cannot create %s: %s", buf, strerror(errno));
	return 0;
}

const char *backup_tarn_bin(void)
{
	static char path[PATH_MAX];
	const char *e = getenv("TARN_BIN");
	if (e && *e)
		return e;
	if (!path[0]) {
		ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
		if (n <= 0)
			snprintf(path, sizeof(path), "/proc/self/exe");
		else
			path[n] = 0;
	}
	return path;
}
