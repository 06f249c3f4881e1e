/* cli/volume.c — `tarn volume write VOL [--offset N] < data` and
 * `tarn volume read VOL[@SNAP] [--offset N] [--length N] > data`. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/err.h"
#include "util/strnum.h"

#define IO_CHUNK (1u << 20)

static void usage(FILE *f)
{
	fprintf(f, "usage:\n"
		   "\ttarn volume write <volume> [--offset N] < data\n"
		   "\ttarn volume read <volume|snapshot> [--offset N] [--length N] > data\n\n"
		   "write copies standard input into the volume starting at --offset (default 0) and\n"
		   "commits it before exiting; blocks that are all zeros become holes. A write commits\n"
		   "(and is then crash-safe) whenever 64 MiB are buffered (TARN_DIRTY_MAX): a write\n"
		   "larger than that is not atomic; after a crash it has landed up to the last commit,\n"
		   "as on a disk. read copies\n"
		   "the volume (or a snapshot of it) to standard output from --offset for --length\n"
		   "bytes (default: to the end); holes read as zeros. Every block read is verified\n"
		   "against its checksum; on a mismatch read fails and prints nothing of that block.\n"
		   "Sizes accept suffixes (16K, 100M, 1.5G).\n");
}

static int full_write(int fd, const uint8_t *b, size_t n)
{
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return terr(errno ? errno : EIO, "write to standard output failed: %s", strerror(errno));
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static size_t full_read(int fd, uint8_t *b, size_t n, int *err)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, b + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*err = errno;
			break;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static int do_write(const char *name, uint64_t off)
{
	cli_pool_t cp;
	if (cli_open_for(name, &cp) < 0)
		return cli_fail("open '%s'", name);
	dsl_ds_t *ds = dsl_lookup(cp.dsl, name);
	vol_t *v;
	int rc = 0;
	if (!ds)
		rc = -ENOENT;
	else if (ds->type == DS_SNAPSHOT)
		rc = terr(EROFS, "snapshots are read-only");
	else if (ds->type != DS_VOLUME)
		rc = terr(EINVAL, "operation only applies to volumes");
	else if (ds->flags & DSF_INCONSISTENT)
		rc = terr(EBUSY, "dataset is busy (being received; see receive_resume_token)");
	else if (dsl_readonly(cp.dsl, ds))
		rc = terr(EROFS, "volume is read-only (readonly=on)");
	else
		rc = dsl_vol_open(cp.dsl, ds, &v);
	uint8_t *buf = rc == 0 ? malloc(IO_CHUNK) : NULL;
	if (rc == 0 && !buf)
		rc = terr(ENOMEM, "out of memory");
	while (rc == 0) {
		int err = 0;
		size_t n = full_read(0, buf, IO_CHUNK, &err);
		if (err) {
			rc = terr(err, "read from standard input failed: %s", strerror(err));
			break;
		}
		if (n == 0)
			break;
		rc = dsl_write_throttle(cp.dsl, ds, n);
		if (rc == 0)
			rc = vol_write(v, off, n, buf);
		off += n;
	}
	free(buf);
	return cli_finish(&cp, rc, "write '%s'", name);
}

static int do_read(const char *name, uint64_t off, uint64_t len, int have_len)
{
	cli_pool_t cp;
	if (cli_open_for_ro(name, &cp) < 0)
		return cli_fail("open '%s'", name);
	dsl_ds_t *ds = dsl_lookup(cp.dsl, name);
	vol_t *v = NULL;
	int rc = !ds ? -ENOENT
		 : (ds->flags & DSF_INCONSISTENT) ? terr(EBUSY, "dataset is busy (being received; see receive_resume_token)")
						  : dsl_vol_open(cp.dsl, ds, &v);
	if (rc == 0) {
		if (off > v->size)
			rc = terr(EINVAL, "offset %llu is beyond the end of the volume", (unsigned long long)off);
		else if (!have_len || len > v->size - off)
			len = v->size - off;
	}
	uint8_t *buf = rc == 0 ? malloc(IO_CHUNK) : NULL;
	if (rc == 0 && !buf)
		rc = terr(ENOMEM, "out of memory");
	while (rc == 0 && len) {
		size_t n = len < IO_CHUNK ? (size_t)len : IO_CHUNK;
		rc = vol_read(v, off, n, buf);
		if (rc < 0) {
			char full[600];
			snprintf(full, sizeof(full), "%s", terr_msg());
			rc = terr(EIO, "%s (pool '%s', dataset '%s')", full, cp.pool->name, name);
			break;
		}
		rc = full_write(1, buf, n);
		off += n;
		len -= n;
	}
	free(buf);
	if (ds && v)
		dsl_vol_close(ds, v);
	cli_close(&cp, 0);
	if (rc < 0)
		return cli_fail("read '%s'", name);
	return 0;
}

int cmd_volume(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-?")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "read") && strcmp(sub, "write")) {
		fprintf(stderr, "unrecognized command '%s'\n", sub);
		usage(stderr);
		return 2;
	}
	static const struct option opts[] = { { "offset", required_argument, 0, 'o' },
					       { "length", required_argument, 0, 'l' },
					       { "help", no_argument, 0, 'h' },
					       { 0, 0, 0, 0 } };
	uint64_t off = 0, len = 0;
	int have_len = 0, c;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (parse_size(optarg, &off) < 0) {
				fprintf(stderr, "bad --offset: %s\n", terr_msg());
				return 2;
			}
			break;
		case 'l':
			if (parse_size(optarg, &len) < 0) {
				fprintf(stderr, "bad --length: %s\n", terr_msg());
				return 2;
			}
			have_len = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc - 1) {
		fprintf(stderr, "%s\n", optind + 1 > argc - 1 ? "missing volume name" : "too many arguments");
		usage(stderr);
		return 2;
	}
	const char *name = argv[optind + 1];
	if (!strcmp(sub, "write")) {
		if (have_len) {
			fprintf(stderr, "--length applies to read only\n");
			return 2;
		}
		return do_write(name, off);
	}
	return do_read(name, off, len, have_len);
}
