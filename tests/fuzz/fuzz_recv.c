/* tests/fuzz/fuzz_recv.c — libFuzzer target for the send-stream reader and zfs receive
 * (src/stream/format.c, recv.c). Built and run by tests/fuzz/run.sh, not by the Makefile.
 *
 * The first byte of an input is a mode, the rest is a stream:
 *   bits 0-2  what to do with the rest: 0 receive into a new fz/new; 1 onto fz/i (holds the
 *             seed full stream's snapshot, so incrementals from it apply); 2 -d into fz/dd;
 *             3 -e into fz/ee; 4 into fz/r (a volume without snapshots: -F replaces it);
 *             5 onto fz/pk (holds the seed package's first snapshots); 6 decode the rest as a
 *             resume token; 7 decode the rest as a BEGIN payload
 *   bit 3     -F          bit 4  really receive (else -n: read and verify, change nothing)
 *   bit 5     -s          bit 6  re-seal: recompute every record's running checksum first, so
 *                                that mutations get past the checksum into the decoders
 *   bit 7     -o compression=zstd -x user:tag
 * Real receives (bit 4) run on a freshly imported pool whose file is put back to its pristine
 * copy afterwards, so every input starts from the same state. A crash, a sanitizer report or a
 * leak is a finding; error returns are the expected outcome for most inputs.
 *
 * Setup (once): a pool "fz" on a 64 MiB file in a temporary directory (made in $FUZZ_RECV_DIR
 * or /tmp, removed at exit; on tmpfs it runs ~5x faster: pool commits sync their writes), with fz/dd, fz/ee (containers) and fz/r (64K volume, 4K blocks), then every
 * "TARGET=FILE" of $FUZZ_RECV_SETUP (comma separated) received for real: run.sh passes the
 * seed full stream for fz/i and the first snapshot's package for fz/pk.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "dsl/dsl.h"
#include "pool/pool.h"
#include "stream/format.h"
#include "stream/recv.h"
#include "stream/send.h"
#include "util/err.h"

static char dir[256], img[300], pristine[300];
static pool_t *ro_pool;
static dsl_t *ro_dsl;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_recv setup: %s: %s\n", what, terr_msg());
	abort();
}

static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT, 0600);
	struct stat st;
	int rc = -1;
	if (in < 0 || out < 0 || fstat(in, &st) < 0 || ftruncate(out, 0) < 0 || ftruncate(out, st.st_size) < 0)
		goto done;
	for (off_t pos = 0;;) { /* copy the data extents only: the file is mostly a hole */
		off_t data = lseek(in, pos, SEEK_DATA);
		if (data < 0)
			break;
		off_t hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			goto done;
		static char buf[1 << 16];
		for (off_t o = data; o < hole;) {
			ssize_t n = pread(in, buf, (size_t)(hole - o < (off_t)sizeof(buf) ? hole - o : (off_t)sizeof(buf)), o);
			if (n <= 0 || pwrite(out, buf, (size_t)n, o) != n)
				goto done;
			o += n;
		}
		pos = hole;
	}
	rc = 0;
done:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

static void cleanup(void)
{
	unlink(img);
	unlink(pristine);
	rmdir(dir);
}

static void receive_file(dsl_t *d, const char *target, const char *path)
{
	FILE *f = fopen(path, "rb");
	recv_opts_t o = { .target = target };
	if (!f || stream_recv(d, &o, f, NULL, NULL) < 0) {
		fprintf(stderr, "fuzz_recv setup: receive %s into %s: %s\n", path, target, terr_msg());
		abort();
	}
	fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = getenv("FUZZ_RECV_DIR");
	snprintf(dir, sizeof(dir), "%s/fuzz_recv.XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(dir))
		return perror("mkdtemp"), abort(), 0;
	snprintf(img, sizeof(img), "%s/pool.img", dir);
	snprintf(pristine, sizeof(pristine), "%s/pristine.img", dir);
	atexit(cleanup);
	int fd = open(img, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, 64ll << 20) < 0)
		return perror(img), abort(), 0;
	close(fd);
	char *paths[1] = { img };
	pool_t *p;
	dsl_t *d;
	if (pool_create("fz", 1, paths, 0, &p) < 0 || dsl_open(p, &d) < 0)
		die("create pool");
	if (dsl_create(d, "fz/dd", 0, 0, 0, NULL, 0) < 0 || dsl_create(d, "fz/ee", 0, 0, 0, NULL, 0) < 0 ||
	    dsl_create(d, "fz/r", 64 << 10, 4096, 1, NULL, 0) < 0 || dsl_commit(d) < 0)
		die("create datasets");
	char *setup = getenv("FUZZ_RECV_SETUP") ? strdup(getenv("FUZZ_RECV_SETUP")) : NULL, *save = NULL;
	for (char *tok = setup ? strtok_r(setup, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = 0;
		receive_file(d, tok, eq + 1);
	}
	free(setup);
	if (dsl_commit(d) < 0)
		die("commit");
	dsl_close(d);
	pool_close(p);
	if (copy_file(img, pristine) < 0)
		return perror("copy"), abort(), 0;
	if (pool_import(1, paths, POOL_IMPORT_OPEN | POOL_IMPORT_READONLY, &ro_pool) < 0 || dsl_open(ro_pool, &ro_dsl) < 0)
		die("open read-only");
	return 0;
}

/* Recompute the running checksum of every whole record (framing by the len fields). */
static void reseal(uint8_t *b, size_t n)
{
	uint8_t chain[16] = { 0 };
	for (size_t off = 0; n - off >= SR_HDR;) {
		uint64_t len = 0;
		for (int i = 7; i >= 0; i--)
			len = len << 8 | b[off + 8 + i];
		if (len > n - off - SR_HDR)
			break;
		XXH3_state_t *st = XXH3_createState();
		XXH128_canonical_t c;
		XXH3_128bits_reset(st);
		XXH3_128bits_update(st, chain, 16);
		XXH3_128bits_update(st, b + off, 32);
		XXH3_128bits_update(st, b + off + SR_HDR, (size_t)len);
		XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
		XXH3_freeState(st);
		memcpy(chain, c.digest, 16);
		memcpy(b + off + 32, chain, 16);
		off += SR_HDR + (size_t)len;
	}
}

static void nothing(void *arg, const char *snap, const char *from, uint64_t bytes) {}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0], what = mode & 7;
	size_t n = size - 1;
	uint8_t *buf = malloc(n + 1);
	memcpy(buf, data + 1, n);
	buf[n] = 0;
	if (what == 6) { /* resume token */
		resume_token_t t;
		if (resume_token_decode((char *)buf, &t) == 0) {
			char out[3000];
			resume_token_encode(&t, out, sizeof(out));
		}
		free(buf);
		terr_clear();
		return 0;
	}
	if (what == 7) { /* BEGIN payload */
		sr_begin_t b;
		if (sr_begin_decode(buf, n, &b) == 0)
			sr_begin_free(&b);
		free(buf);
		terr_clear();
		return 0;
	}
	if (mode & 0x40)
		reseal(buf, n);
	static const char *targets[] = { "fz/new", "fz/i", "fz/dd", "fz/ee", "fz/r", "fz/pk" };
	char *set[1] = { "compression=zstd" }, *excl[1] = { "user:tag" };
	recv_opts_t o = { .target = targets[what], .force = !!(mode & 8), .dryrun = !(mode & 0x10),
			  .resumable = !!(mode & 0x20), .name_mode = what == 2 ? 'd' : what == 3 ? 'e' : 0 };
	if (mode & 0x80) {
		o.set = set, o.nset = 1;
		o.exclude = excl, o.nexcl = 1;
	}
	FILE *f = fmemopen(buf, n ? n : 1, "rb");
	if (!f)
		abort();
	if (n == 0)
		fgetc(f); /* an empty stream: fmemopen needs a non-empty buffer */
	if (o.dryrun) {
		stream_recv(ro_dsl, &o, f, nothing, NULL);
	} else {
		char *paths[1] = { img };
		pool_t *p;
		dsl_t *d;
		if (pool_import(1, paths, POOL_IMPORT_OPEN, &p) < 0)
			die("import");
		if (dsl_open(p, &d) < 0)
			die("dsl_open");
		stream_recv(d, &o, f, nothing, NULL);
		dsl_close(d);
		pool_close(p);
		if (copy_file(pristine, img) < 0)
			abort();
	}
	fclose(f);
	free(buf);
	terr_clear();
	return 0;
}
