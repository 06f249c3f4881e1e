/* backup/exec.c — child processes: command lines (local tarn or through ssh), running a command
 * and capturing its output, and the two-process pipelines (send → this process → receive, and a
 * byte comparison of two readers). Children's stderr goes to memfds, so no pipe can fill up. */
#include "backup/backup.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/err.h"
#include "util/grow.h"
#include "util/timefmt.h"

/* ---- command lines ---- */

int backup_cmd_add(backup_cmd_t *c, const char *arg)
{
	TRY(GROW(c->argv, c->cap, c->argc + 1, 16));
	if (!(c->argv[c->argc] = strdup(arg)))
		return terr(ENOMEM, "out of memory");
	c->argv[++c->argc] = NULL;
	return 0;
}

int backup_cmd_addf(backup_cmd_t *c, const char *fmt, ...)
{
	char *s;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return terr(ENOMEM, "out of memory");
	int rc = backup_cmd_add(c, s);
	free(s);
	return rc;
}

void backup_cmd_free(backup_cmd_t *c)
{
	for (int i = 0; i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	memset(c, 0, sizeof(*c));
}

/* Append s single-quoted for a POSIX shell. */
static int shq(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t need = *len + 4 * strlen(s) + 4;
	if (need > *cap) {
		size_t nc = need * 2;
		char *nb = realloc(*buf, nc);
		if (!nb)
			return terr(ENOMEM, "out of memory");
		*buf = nb;
		*cap = nc;
	}
	char *p = *buf + *len;
	*p++ = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else
			*p++ = *s;
	}
	*p++ = '\'';
	*p = 0;
	*len = (size_t)(p - *buf);
	return 0;
}

char *backup_cmd_str(const backup_cmd_t *c)
{
	size_t cap = 1;
	for (int i = 0; i < c->argc; i++)
		cap += 4 * strlen(c->argv[i]) + 3;
	char *buf = malloc(cap);
	size_t len = 0;
	if (!buf)
		return NULL;
	buf[0] = 0;
	for (int i = 0; i < c->argc; i++) {
		const char *a = c->argv[i];
		if (i)
			buf[len++] = ' ', buf[len] = 0;
		if (*a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=@:%,+") == strlen(a)) {
			memcpy(buf + len, a, strlen(a) + 1);
			len += strlen(a);
		} else if (shq(&buf, &len, &cap, a) < 0) {
			free(buf);
			return NULL;
		}
	}
	return buf;
}

int backup_side_cmd(const backup_side_t *s, backup_cmd_t *c, const char *const *args)
{
	if (!s->remote) {
		TRY(backup_cmd_add(c, s->tarn));
		for (int i = 0; args[i]; i++)
			TRY(backup_cmd_add(c, args[i]));
		return 0;
	}
	TRY(backup_cmd_add(c, "ssh"));
	TRY(backup_cmd_add(c, "-o"));
	TRY(backup_cmd_add(c, "BatchMode=yes"));
	if (s->ssh_options) { /* first: ssh keeps the first value given for an option */
		char *o = strdup(s->ssh_options), *save = NULL;
		if (!o)
			return terr(ENOMEM, "out of memory");
		int rc = 0;
		for (char *t = strtok_r(o, " \t", &save); t && rc == 0; t = strtok_r(NULL, " \t", &save))
			rc = backup_cmd_add(c, t);
		free(o);
		TRY(rc);
	}
	static const char *const defs[] = {"-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", NULL};
	for (int i = 0; defs[i]; i++)
		TRY(backup_cmd_add(c, defs[i]));
	if (s->port) {
		TRY(backup_cmd_add(c, "-p"));
		TRY(backup_cmd_addf(c, "%u", s->port));
	}
	if (s->ssh_key) {
		TRY(backup_cmd_add(c, "-i"));
		TRY(backup_cmd_add(c, s->ssh_key));
	}
	if (s->user)
		TRY(backup_cmd_addf(c, "%s@%s", s->user, s->host));
	else
		TRY(backup_cmd_add(c, s->host));
	/* the remote command: tarn's words as configured, then every argument quoted */
	size_t len = strlen(s->tarn), cap = len + 64;
	char *line = malloc(cap);
	if (!line)
		return terr(ENOMEM, "out of memory");
	memcpy(line, s->tarn, len + 1);
	for (int i = 0; args[i]; i++) {
		if (len + 2 > cap) {
			char *nb = realloc(line, cap * 2);
			if (!nb)
				return free(line), terr(ENOMEM, "out of memory");
			line = nb;
			cap *= 2;
		}
		line[len++] = ' ';
		line[len] = 0;
		if (shq(&line, &len, &cap, args[i]) < 0)
			return free(line), -ENOMEM;
	}
	int rc = backup_cmd_add(c, line);
	free(line);
	return rc;
}

/* ---- running ---- */

static int memfd(void)
{
	int fd = memfd_create("tarn-backup-stderr", MFD_CLOEXEC);
	if (fd < 0)
		return terr(errno, "memfd_create: %s", strerror(errno));
	return fd;
}

/* The last 8 KiB of a stderr memfd, NUL-terminated; NULL when out of memory. */
static char *memfd_tail(int fd)
{
	struct stat st;
	size_t want = 0;
	off_t off = 0;
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0) {
		want = st.st_size > 8192 ? 8192 : (size_t)st.st_size;
		off = st.st_size - (off_t)want;
	}
	char *b = malloc(want + 1);
	if (!b)
		return NULL;
	ssize_t n = want ? pread(fd, b, want, off) : 0;
	b[n > 0 ? n : 0] = 0;
	/* trim trailing whitespace */
	for (ssize_t i = n > 0 ? n : 0; i > 0 && (b[i - 1] == '\n' || b[i - 1] == ' ' || b[i - 1] == '\r'); i--)
		b[i - 1] = 0;
	return b;
}

/* fork + exec with fds on 0/1/2 (-1: /dev/null). Returns the pid or -errno. */
static pid_t spawn(const backup_cmd_t *c, int in, int out, int errfd, char *const *env)
{
	pid_t pid = fork();
	if (pid < 0)
		return terr(errno, "fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		int fds[3] = {in >= 0 ? in : null, out >= 0 ? out : null, errfd >= 0 ? errfd : null};
		for (int i = 0; i < 3; i++) {
			if (fds[i] < 0)
				_exit(127);
			if (fds[i] == i) {
				int fl = fcntl(i, F_GETFD);
				if (fl >= 0)
					fcntl(i, F_SETFD, fl & ~FD_CLOEXEC);
			} else if (dup2(fds[i], i) < 0)
				_exit(127);
		}
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		for (int i = 0; env && env[i]; i++)
			putenv(env[i]);
		execvp(c->argv[0], c->argv);
		dprintf(2, "cannot run %s: %s\n", c->argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static int wait_status(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 255;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

void backup_errline(const char *err, char *buf, size_t len)
{
	if (!len)
		return;
	buf[0] = 0;
	if (!err)
		return;
	const char *end = err + strlen(err), *s;
	while (end > err && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\r'))
		end--;
	for (s = end; s > err && s[-1] != '\n'; s--)
		;
	size_t n = (size_t)(end - s), o = 0;
	for (size_t i = 0; i < n && o + 1 < len && o < 300; i++) {
		unsigned char ch = (unsigned char)s[i];
		buf[o++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	buf[o] = 0;
}

int backup_exec(const backup_cmd_t *c, char **out, char **err)
{
	int p[2], ef = memfd();
	if (out)
		*out = NULL;
	if (err)
		*err = NULL;
	if (ef < 0)
		return ef;
	if (pipe2(p, O_CLOEXEC) < 0) {
		close(ef);
		return terr(errno, "pipe: %s", strerror(errno));
	}
	pid_t pid = spawn(c, -1, p[1], ef, NULL);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		close(ef);
		return pid;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int oom = 0;
	for (;;) {
		if (len + 65536 + 1 > cap && !oom) {
			size_t nc = cap ? cap * 2 : 65536 * 2;
			char *nb = nc <= (64u << 20) ? realloc(buf, nc) : NULL;
			if (!nb)
				oom = 1;
			else
				buf = nb, cap = nc;
		}
		char sink[65536];
		ssize_t n = oom ? read(p[0], sink, sizeof(sink)) : read(p[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (!oom)
			len += (size_t)n;
	}
	close(p[0]);
	int st = wait_status(pid);
	if (buf)
		buf[len] = 0;
	if (out)
		*out = buf ? buf : strdup("");
	else
		free(buf);
	if (err)
		*err = memfd_tail(ef);
	close(ef);
	if (oom && st == 0) {
		if (out) {
			free(*out);
			*out = NULL;
		}
		return terr(ENOMEM, "output of %s too large", c->argv[0]);
	}
	return st;
}

int backup_exec_env(const backup_cmd_t *c, char *const *env, char **err)
{
	int ef = memfd();
	if (err)
		*err = NULL;
	if (ef < 0)
		return ef;
	pid_t pid = spawn(c, -1, ef, ef, env);
	if (pid < 0) {
		close(ef);
		return pid;
	}
	int st = wait_status(pid);
	if (err)
		*err = memfd_tail(ef);
	close(ef);
	return st;
}

/* ---- transfer ---- */

static void fmt_rate(double bps, char *buf, size_t len)
{
	char b[32];
	backup_bytes((uint64_t)bps, b, sizeof(b));
	snprintf(buf, len, "%.30s/s", b);
}

static void progress_draw(const char *label, uint64_t done, uint64_t total, uint64_t ns, int final)
{
	char d[32], t[32], r[48], eta[32] = "";
	double secs = ns / 1e9, rate = secs > 0 ? done / secs : 0;
	backup_bytes(done, d, sizeof(d));
	fmt_rate(rate, r, sizeof(r));
	int pct = total ? (int)(done * 100 / (total > done ? total : done)) : 0;
	if (total)
		backup_bytes(total, t, sizeof(t));
	if (total && rate > 0 && total > done && !final) {
		uint64_t s = (uint64_t)((total - done) / rate);
		snprintf(eta, sizeof(eta), " ETA %u:%02u:%02u", (unsigned)(s / 3600), (unsigned)(s / 60 % 60),
			 (unsigned)(s % 60));
	}
	char bar[23];
	int fill = pct * 20 / 100;
	bar[0] = '[';
	for (int i = 0; i < 20; i++)
		bar[1 + i] = i < fill ? '#' : '.';
	bar[21] = ']';
	bar[22] = 0;
	if (total)
		fprintf(stderr, "\r  %-28.28s %s %3d%% %10s / %-10s %12s%s\033[K", label, bar, pct, d, t, r, eta);
	else
		fprintf(stderr, "\r  %-28.28s %10s %12s\033[K", label, d, r);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int backup_transfer(const backup_cmd_t *send, const backup_cmd_t *recv, uint64_t estimate, const char *label,
		    int progress, backup_xfer_t *x)
{
	int sp[2] = {-1, -1}, rp[2] = {-1, -1}, se = -1, re = -1, rc = 0;
	pid_t spid = -1, rpid = -1;
	char *buf = NULL;
	memset(x, 0, sizeof(*x));
	signal(SIGPIPE, SIG_IGN);
	if ((se = memfd()) < 0 || (re = memfd()) < 0) {
		rc = -EIO;
		goto out;
	}
	if (pipe2(sp, O_CLOEXEC) < 0 || pipe2(rp, O_CLOEXEC) < 0) {
		rc = terr(errno, "pipe: %s", strerror(errno));
		goto out;
	}
	if (!(buf = malloc(1 << 20))) {
		rc = terr(ENOMEM, "out of memory");
		goto out;
	}
	fcntl(sp[0], F_SETPIPE_SZ, 1 << 20); /* best effort: fewer wakeups */
	fcntl(rp[1], F_SETPIPE_SZ, 1 << 20);
	if ((rpid = spawn(recv, rp[0], -1, re, NULL)) < 0) {
		rc = (int)rpid;
		goto out;
	}
	close(rp[0]);
	rp[0] = -1;
	if ((spid = spawn(send, -1, sp[1], se, NULL)) < 0) {
		rc = (int)spid;
		goto out;
	}
	close(sp[1]);
	sp[1] = -1;

	uint64_t t0 = now_ns(), last = 0;
	int recv_dead = 0;
	for (;;) {
		ssize_t n = read(sp[0], buf, 1 << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (write_all(rp[1], buf, (size_t)n) < 0) {
			recv_dead = 1;
			break;
		}
		x->bytes += (uint64_t)n;
		uint64_t now = now_ns();
		if (progress && now - last > 250000000ull) {
			progress_draw(label, x->bytes, estimate, now - t0, 0);
			last = now;
		}
	}
	x->ns = now_ns() - t0;
	if (progress)
		progress_draw(label, x->bytes, estimate, x->ns, 1);
	close(rp[1]);
	rp[1] = -1;
	if (recv_dead)
		kill(spid, SIGTERM);
	close(sp[0]);
	sp[0] = -1;
	int sst = wait_status(spid), rst = wait_status(rpid);
	spid = rpid = -1;
	char line[512];
	if (rst != 0) {
		char *e = memfd_tail(re);
		backup_errline(e, line, sizeof(line));
		free(e);
		rc = terr(EIO, "receive failed (exit status %d) after %llu bytes: %s", rst, (unsigned long long)x->bytes,
			  line[0] ? line : "no message");
	} else if (sst != 0 && !recv_dead) {
		char *e = memfd_tail(se);
		backup_errline(e, line, sizeof(line));
		free(e);
		rc = terr(EIO, "send failed (exit status %d) after %llu bytes: %s", sst, (unsigned long long)x->bytes,
			  line[0] ? line : "no message");
	} else if (recv_dead)
		rc = terr(EIO, "the receiver exited before the end of the stream (after %llu bytes)",
			  (unsigned long long)x->bytes);
out:
	if (spid > 0) {
		kill(spid, SIGTERM);
		wait_status(spid);
	}
	if (rpid > 0) {
		if (rp[1] >= 0)
			close(rp[1]), rp[1] = -1;
		wait_status(rpid);
	}
	for (int i = 0; i < 2; i++) {
		if (sp[i] >= 0)
			close(sp[i]);
		if (rp[i] >= 0)
			close(rp[i]);
	}
	if (se >= 0)
		close(se);
	if (re >= 0)
		close(re);
	free(buf);
	return rc;
}

/* Read up to n bytes (fewer only at EOF). */
static ssize_t read_full(int fd, char *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int backup_compare(const backup_cmd_t *a, const backup_cmd_t *b, uint64_t *bytes)
{
	const backup_cmd_t *cmd[2] = {a, b};
	int p[2][2] = {{-1, -1}, {-1, -1}}, ef[2] = {-1, -1}, rc = 0;
	pid_t pid[2] = {-1, -1};
	char *buf[2] = {malloc(1 << 20), malloc(1 << 20)};
	*bytes = 0;
	signal(SIGPIPE, SIG_IGN);
	if (!buf[0] || !buf[1]) {
		rc = terr(ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		if ((ef[i] = memfd()) < 0 || pipe2(p[i], O_CLOEXEC) < 0) {
			rc = ef[i] < 0 ? ef[i] : terr(errno, "pipe: %s", strerror(errno));
			goto out;
		}
		if ((pid[i] = spawn(cmd[i], -1, p[i][1], ef[i], NULL)) < 0) {
			rc = (int)pid[i];
			goto out;
		}
		close(p[i][1]);
		p[i][1] = -1;
	}
	for (;;) {
		ssize_t n0 = read_full(p[0][0], buf[0], 1 << 20), n1 = read_full(p[1][0], buf[1], 1 << 20);
		if (n0 < 0 || n1 < 0) {
			rc = terr(EIO, "read error while comparing");
			break;
		}
		size_t m = (size_t)(n0 < n1 ? n0 : n1);
		if (memcmp(buf[0], buf[1], m)) {
			size_t k = 0;
			while (buf[0][k] == buf[1][k])
				k++;
			rc = terr(EIO, "the copies differ at byte %llu", (unsigned long long)(*bytes + k));
			break;
		}
		*bytes += m;
		if (n0 != n1) {
			rc = terr(EIO, "the copies differ in length (one ends at byte %llu)", (unsigned long long)*bytes);
			break;
		}
		if (n0 == 0)
			break;
	}
out:
	for (int i = 0; i < 2; i++) {
		if (p[i][0] >= 0)
			close(p[i][0]);
		if (p[i][1] >= 0)
			close(p[i][1]);
	}
	for (int i = 0; i < 2; i++) {
		if (pid[i] <= 0)
			continue;
		if (rc < 0)
			kill(pid[i], SIGTERM);
		int st = wait_status(pid[i]);
		if (st != 0 && rc == 0) {
			char *e = memfd_tail(ef[i]), line[512];
			backup_errline(e, line, sizeof(line));
			free(e);
			rc = terr(EIO, "reading the %s copy failed: %s", i ? "destination" : "source",
				  line[0] ? line : "no message");
		}
	}
	for (int i = 0; i < 2; i++)
		if (ef[i] >= 0)
			close(ef[i]);
	free(buf[0]);
	free(buf[1]);
	return rc;
}
