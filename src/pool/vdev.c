/* pool/vdev.c — file and block-device vdevs, with a torn-write fault injector (see vdev.h). */
#include "pool/vdev.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pool/bp.h"
#include "util/err.h"

struct torn_write {
	uint64_t off;
	size_t len;
	uint8_t *data;
};
struct torn_buf {
	struct torn_write *w;
	size_t n, cap;
};

static int vdev_issue(vdev_t *v);

static long torn_after = -1; /* -1: not read yet; 0: disabled */
static long torn_flushes;
static unsigned torn_seed;

static void torn_init(void)
{
	if (torn_after >= 0)
		return;
	const char *a = getenv("TARN_TORN_AFTER"), *s = getenv("TARN_TORN_SEED");
	torn_after = a ? atol(a) : 0;
	if (torn_after < 0)
		torn_after = 0;
	torn_seed = s ? (unsigned)strtoul(s, NULL, 10) : 1;
}

int vdev_open(vdev_t *v, const char *path, int ro)
{
	struct stat st;
	memset(v, 0, sizeof(*v));
	v->fd = -1;
	if (strlen(path) >= sizeof(v->path))
		return terr(ENAMETOOLONG, "cannot open '%s': name too long", path);
	strcpy(v->path, path);
	int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return terr(errno, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return terr(e, "cannot open '%s': %s", path, strerror(e));
	}
	uint64_t size;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
			int e = errno;
			close(fd);
			return terr(e, "cannot open '%s': %s", path, strerror(e));
		}
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else {
		close(fd);
		return terr(EINVAL, "cannot open '%s': not a regular file or block device", path);
	}
	v->fd = fd;
	v->size = size / SECTOR * SECTOR;
	torn_init();
	if (torn_after > 0 && !ro)
		v->torn = calloc(1, sizeof(*v->torn));
	return 0;
}

static void torn_free(struct torn_buf *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->w[i].data);
	free(t->w);
	t->n = t->cap = 0;
	t->w = NULL;
}

void vdev_close(vdev_t *v)
{
	if (v->torn) {
		/* a clean close flushes what was buffered */
		for (size_t i = 0; i < v->torn->n; i++)
			if (pwrite(v->fd, v->torn->w[i].data, v->torn->w[i].len, (off_t)v->torn->w[i].off) < 0)
				break;
		torn_free(v->torn);
		free(v->torn);
		v->torn = NULL;
	}
	if (v->fd >= 0) /* writes still combined were not committed: they are not needed */
		close(v->fd);
	v->fd = -1;
	free(v->q);
	v->q = NULL;
	free(v->ra);
	v->ra = NULL;
	v->ralen = 0;
}

static int pread_full(vdev_t *v, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(v->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			v->read_errors++;
			return terr(EIO, "%s: read error at offset %llu: %s", v->path,
				    (unsigned long long)(off + done), r < 0 ? strerror(errno) : "short read");
		}
		done += (size_t)r;
	}
	return 0;
}

int vdev_read_direct(const vdev_t *v, void *buf, size_t len, uint64_t off)
{
	if (off > v->size || len > v->size - off)
		return -EIO;
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(v->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EIO;
		done += (size_t)r;
	}
	return 0;
}

int vdev_read(vdev_t *v, void *buf, size_t len, uint64_t off)
{
	TRY(vdev_issue(v));
	if (off > v->size || len > v->size - off) {
		v->read_errors++;
		return terr(EIO, "%s: read beyond end of device (offset %llu)", v->path, (unsigned long long)off);
	}
	int seq = off == v->last_end;
	v->last_end = off + len;
	if (v->ralen && off >= v->raoff && off + len <= v->raoff + v->ralen) {
		memcpy(buf, v->ra + (off - v->raoff), len);
		return 0;
	}
	/* a second read that continues the last one: read ahead, one call for many blocks */
	if (seq && !v->torn && len < VDEV_READAHEAD && (v->ra || (v->ra = malloc(VDEV_READAHEAD)))) {
		size_t n = v->size - off < VDEV_READAHEAD ? (size_t)(v->size - off) : VDEV_READAHEAD;
		v->ralen = 0;
		TRY(pread_full(v, v->ra, n, off));
		v->raoff = off;
		v->ralen = n;
		memcpy(buf, v->ra, len);
		return 0;
	}
	TRY(pread_full(v, buf, len, off));
	/* reads see buffered (not yet flushed) writes, as a page cache would */
	if (v->torn)
		for (size_t i = 0; i < v->torn->n; i++) {
			struct torn_write *w = &v->torn->w[i];
			uint64_t a = w->off > off ? w->off : off;
			uint64_t b = (w->off + w->len < off + len) ? w->off + w->len : off + len;
			if (a < b)
				memcpy((char *)buf + (a - off), w->data + (a - w->off), b - a);
		}
	return 0;
}

static int write_now(vdev_t *v, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pwrite(v->fd, (const char *)buf + done, len - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			v->write_errors++;
			return terr(r < 0 && errno == ENOSPC ? ENOSPC : EIO, "%s: write error at offset %llu: %s",
				    v->path, (unsigned long long)(off + done), r < 0 ? strerror(errno) : "short write");
		}
		done += (size_t)r;
	}
	/* start writeback early so that the commit's flush finds little left to do */
	v->unkicked += len;
	if (v->unkicked >= VDEV_KICK_BYTES) {
		sync_file_range(v->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		v->unkicked = 0;
	}
	return 0;
}

/* Issue the combined writes. */
static int vdev_issue(vdev_t *v)
{
	if (v->werr)
		return terr(-v->werr, "%s: an earlier write failed", v->path);
	if (!v->qlen)
		return 0;
	size_t n = v->qlen;
	v->qlen = 0;
	int rc = write_now(v, v->q, n, v->qoff);
	if (rc < 0)
		v->werr = rc; /* those blocks are lost: no commit may claim them */
	return rc;
}

int vdev_issue_pending(vdev_t *v) { return vdev_issue(v); }

void vdev_forget_readahead(vdev_t *v) { v->ralen = 0; }

int vdev_writev_direct(const vdev_t *v, const struct iovec *iov, int cnt, uint64_t off)
{
	uint64_t len = 0;
	for (int i = 0; i < cnt; i++)
		len += iov[i].iov_len;
	if (off > v->size || len > v->size - off)
		return terr(EIO, "%s: write beyond end of device (offset %llu)", v->path, (unsigned long long)off);
	struct iovec cur[64];
	if (cnt > 64)
		return terr(EINVAL, "too many buffers in one write");
	memcpy(cur, iov, (size_t)cnt * sizeof(*iov));
	struct iovec *at = cur;
	uint64_t done = 0;
	while (done < len) {
		ssize_t r = pwritev(v->fd, at, cnt, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return terr(r < 0 && errno == ENOSPC ? ENOSPC : EIO, "%s: write error at offset %llu: %s", v->path,
				    (unsigned long long)(off + done), r < 0 ? strerror(errno) : "short write");
		done += (uint64_t)r;
		while (cnt && (size_t)r >= at->iov_len) { /* skip what was written */
			r -= (ssize_t)at->iov_len;
			at++;
			cnt--;
		}
		if (cnt) {
			at->iov_base = (char *)at->iov_base + r;
			at->iov_len -= (size_t)r;
		}
	}
	if (len >= VDEV_KICK_BYTES / 8) /* start writeback early, as write_now does */
		sync_file_range(v->fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
	return 0;
}

int vdev_sync_direct(const vdev_t *v)
{
	if (fdatasync(v->fd) < 0)
		return terr(EIO, "%s: flush failed: %s", v->path, strerror(errno));
	return 0;
}

int vdev_write(vdev_t *v, const void *buf, size_t len, uint64_t off)
{
	if (v->ralen && off < v->raoff + v->ralen && off + len > v->raoff)
		v->ralen = 0; /* the read-ahead copy is stale */
	if (v->werr)
		return terr(-v->werr, "%s: an earlier write failed", v->path);
	if (off > v->size || len > v->size - off) {
		v->write_errors++;
		return terr(EIO, "%s: write beyond end of device (offset %llu)", v->path, (unsigned long long)off);
	}
	if (v->torn) {
		struct torn_buf *t = v->torn;
		if (t->n == t->cap) {
			size_t nc = t->cap ? t->cap * 2 : 64;
			struct torn_write *nw = realloc(t->w, nc * sizeof(*nw));
			if (!nw)
				return terr(ENOMEM, "out of memory");
			t->w = nw;
			t->cap = nc;
		}
		uint8_t *d = malloc(len);
		if (!d)
			return terr(ENOMEM, "out of memory");
		memcpy(d, buf, len);
		t->w[t->n++] = (struct torn_write){ off, len, d };
		return 0;
	}
	if (v->qlen && (v->qoff + v->qlen != off || v->qlen + len > VDEV_QUEUE_BYTES))
		TRY(vdev_issue(v));
	if (len >= VDEV_QUEUE_BYTES)
		return write_now(v, buf, len, off);
	if (!v->q && !(v->q = malloc(VDEV_QUEUE_BYTES)))
		return write_now(v, buf, len, off);
	if (!v->qlen)
		v->qoff = off;
	memcpy(v->q + v->qlen, buf, len);
	v->qlen += len;
	return 0;
}

static unsigned torn_rand(void)
{
	torn_seed = torn_seed * 1103515245u + 12345u;
	return (torn_seed >> 16) & 0x7fff;
}

/* Power cut: apply a random subset of the buffered writes in random order, some torn. */
static void torn_crash(vdev_t *v)
{
	struct torn_buf *t = v->torn;
	for (size_t i = t->n; i > 1; i--) {
		size_t j = torn_rand() % i;
		struct torn_write tmp = t->w[i - 1];
		t->w[i - 1] = t->w[j];
		t->w[j] = tmp;
	}
	for (size_t i = 0; i < t->n; i++) {
		unsigned r = torn_rand() % 4;
		size_t len = t->w[i].len;
		if (r == 0)
			continue; /* dropped */
		if (r == 1 && len > 512)
			len = (torn_rand() % (len / 512)) * 512; /* torn */
		if (len && pwrite(v->fd, t->w[i].data, len, (off_t)t->w[i].off) < 0)
			break;
	}
	fdatasync(v->fd);
	_exit(99);
}

int vdev_flush(vdev_t *v)
{
	TRY(vdev_issue(v));
	if (v->torn) {
		if (++torn_flushes == torn_after)
			torn_crash(v);
		for (size_t i = 0; i < v->torn->n; i++) {
			struct torn_write *w = &v->torn->w[i];
			if (pwrite(v->fd, w->data, w->len, (off_t)w->off) != (ssize_t)w->len) {
				v->write_errors++;
				torn_free(v->torn);
				return terr(EIO, "%s: write error: %s", v->path, strerror(errno));
			}
		}
		torn_free(v->torn);
	}
	if (fdatasync(v->fd) < 0) {
		v->write_errors++;
		return terr(EIO, "%s: flush failed: %s", v->path, strerror(errno));
	}
	return 0;
}
