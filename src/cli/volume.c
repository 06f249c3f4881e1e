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
	/* under tarnd the pool is free for others while we wait for input: keep ds ours */
	FILE *in = rc == 0 ? cli_stream_open(&cp, "r") : NULL;
	if (rc == 0)
		dsl_busy(ds, 1);
	while (rc == 0) {
		size_t n = fread(buf, 1, IO_CHUNK, in);
		if (n < IO_CHUNK && ferror(in)) {
			rc = terr(errno ? errno : EIO, "read from standard input failed: %s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		rc = dsl_write_throttle(cp.dsl, ds, n);
		if (rc == 0)
			rc = dsl_vol_open(cp.dsl, ds, &v); /* a commit may have reopened it */
		if (rc == 0)
			rc = vol_write(v, off, n, buf);
		off += n;
	}
	if (in) {
		dsl_busy(ds, -1);
		cli_stream_close(in);
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
	FILE *out = rc == 0 ? cli_stream_open(&cp, "w") : NULL;
	if (out)
		dsl_busy(ds, 1);
	while (rc == 0 && len) {
		size_t n = len < IO_CHUNK ? (size_t)len : IO_CHUNK;
		rc = vol_read(v, off, n, buf);
		if (rc < 0) {
			char full[600];
			snprintf(full, sizeof(full), "%s", terr_msg());
			rc = terr(EIO, "%s (pool '%s', dataset '%s')", full, cp.pool->name, name);
			break;
		}
		if (fwrite(buf, 1, n, out) != n)
			rc = terr(errno ? errno : EIO, "write to standard output failed: %s", strerror(errno));
		off += n;
		len -= n;
	}
	if (out) {
		if (fflush(out) == EOF && rc == 0)
			rc = terr(errno ? errno : EIO, "write to standard output failed: %s", strerror(errno));
		dsl_busy(ds, -1);
		cli_stream_close(out);
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
		usage(argc < 2 ? cli_err : cli_out);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "read") && strcmp(sub, "write")) {
		fprintf(cli_err, "unrecognized command '%s'\n", sub);
		usage(cli_err);
		return 2;
	}
	static const struct option opts[] = { { "offset", required_argument, 0, 'o' },
					       { "length", required_argument, 0, 'l' },
					       { "help", no_argument, 0, 'h' },
					       { 0, 0, 0, 0 } };
	uint64_t off = 0, len = 0;
	int have_len = 0, c;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (parse_size(opt_arg, &off) < 0) {
				fprintf(cli_err, "bad --offset: %s\n", terr_msg());
				return 2;
			}
			break;
		case 'l':
			if (parse_size(opt_arg, &len) < 0) {
				fprintf(cli_err, "bad --length: %s\n", terr_msg());
				return 2;
			}
			have_len = 1;
			break;
		case 'h':
			usage(cli_out);
			return 0;
		default:
			usage(cli_err);
			return 2;
		}
	}
	if (opt_ind + 1 != argc - 1) {
		fprintf(cli_err, "%s\n", opt_ind + 1 > argc - 1 ? "missing volume name" : "too many arguments");
		usage(cli_err);
		return 2;
	}
	const char *name = argv[opt_ind + 1];
	if (!strcmp(sub, "write")) {
		if (have_len) {
			fprintf(cli_err, "--length applies to read only\n");
			return 2;
		}
		return do_write(name, off);
	}
	return do_read(name, off, len, have_len);
}
