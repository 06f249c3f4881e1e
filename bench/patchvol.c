/* bench/patchvol.c — apply many small writes to a tarn volume in one process and one commit
 * (bench/sendrecv.sh uses it for the "1% of the 4K blocks overwritten" change; 10486 separate
 * `tarn volume write` processes would take minutes).
 *
 *   patchvol POOL/VOL LIST
 *
 * Each line of LIST is "OFFSET FILE [FILE_OFFSET LENGTH]": write LENGTH bytes read from FILE at
 * FILE_OFFSET (default: the whole file) into the volume at byte OFFSET. Blank lines and lines
 * starting with '#' are skipped. Opens the pool as `tarn volume write` does (src/cli/volume.c,
 * src/cli/common.c: known_load -> pool_import(POOL_IMPORT_OPEN) -> dsl_open -> dsl_lookup ->
 * dsl_vol_open; dsl_write_throttle + vol_write per patch; dsl_commit, dsl_close, pool_close),
 * so TARN_HOME and TARN_DIRTY_MAX apply as they do to tarn. Prints the number of patches and
 * bytes applied. Exit status 0 ok, 1 failure, 2 usage.
 *
 * Build (from the repo root, after make):
 *   cc -O2 -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Isrc bench/patchvol.c build/libtarn.a \
 *      $(pkg-config --libs libxxhash liblz4 libzstd libcrypto) -lpthread -lm -o patchvol
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsl/dsl.h"
#include "pool/known.h"
#include "pool/pool.h"
#include "util/err.h"
#include "vol/vol.h"

static int fail(const char *what)
{
	fprintf(stderr, "patchvol: %s: %s\n", what, terr_msg()[0] ? terr_msg() : strerror(errno));
	return 1;
}

/* The pool named by the first component of dsname, opened read-write (cli_open_for). */
static int open_pool(const char *dsname, pool_t **pool, dsl_t **dsl)
{
	char name[POOL_NAME_MAX];
	size_t n = strcspn(dsname, "/@#");
	if (n == 0 || n >= sizeof(name))
		return terr(ENOENT, "dataset does not exist");
	memcpy(name, dsname, n);
	name[n] = 0;
	known_pool_t *k;
	int nk;
	TRY(known_load(&k, &nk));
	int rc = terr(ENOENT, "no such pool '%s'", name);
	for (int i = 0; i < nk; i++)
		if (!strcmp(k[i].name, name)) {
			terr_clear();
			rc = pool_import(k[i].nvdevs, k[i].paths, POOL_IMPORT_OPEN, pool);
			break;
		}
	known_free(k, nk);
	if (rc < 0)
		return rc;
	rc = dsl_open(*pool, dsl);
	if (rc < 0)
		pool_close(*pool);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: patchvol POOL/VOL LIST\n"
				"  LIST lines: OFFSET FILE [FILE_OFFSET LENGTH]\n");
		return 2;
	}
	const char *volname = argv[1];
	FILE *list = fopen(argv[2], "r");
	if (!list) {
		fprintf(stderr, "patchvol: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	pool_t *pool;
	dsl_t *dsl;
	if (open_pool(volname, &pool, &dsl) < 0)
		return fail(volname);
	dsl_ds_t *ds = dsl_lookup(dsl, volname);
	vol_t *v = NULL;
	int rc = 0;
	if (!ds)
		rc = -ENOENT;
	else if (ds->type != DS_VOLUME)
		rc = terr(EINVAL, "'%s' is not a volume", volname);
	else if (dsl_readonly(dsl, ds))
		rc = terr(EROFS, "volume is read-only");
	else
		rc = dsl_vol_open(dsl, ds, &v);

	char line[4096], path[4096], cur[4096] = "";
	int fd = -1;
	uint8_t *buf = NULL;
	size_t cap = 0;
	uint64_t npatch = 0, nbytes = 0, lineno = 0;
	while (rc == 0 && fgets(line, sizeof(line), list)) {
		lineno++;
		if (line[0] == '#' || strspn(line, " \t\r\n") == strlen(line))
			continue;
		uint64_t off, foff = 0, len = 0;
		int f = sscanf(line, "%" SCNu64 " %4095s %" SCNu64 " %" SCNu64, &off, path, &foff, &len);
		if (f != 2 && f != 4) {
			rc = terr(EINVAL, "%s line %" PRIu64 ": expected OFFSET FILE [FILE_OFFSET LENGTH]", argv[2], lineno);
			break;
		}
		if (strcmp(path, cur)) {
			if (fd >= 0)
				close(fd);
			fd = open(path, O_RDONLY);
			if (fd < 0) {
				rc = terr(errno, "%s: %s", path, strerror(errno));
				break;
			}
			snprintf(cur, sizeof(cur), "%s", path);
		}
		if (f == 2) {
			off_t end = lseek(fd, 0, SEEK_END);
			if (end < 0) {
				rc = terr(errno, "%s: %s", path, strerror(errno));
				break;
			}
			foff = 0;
			len = (uint64_t)end;
		}
		if (len > cap) {
			uint8_t *nb = realloc(buf, len);
			if (!nb) {
				rc = terr(ENOMEM, "out of memory");
				break;
			}
			buf = nb;
			cap = len;
		}
		for (uint64_t got = 0; got < len;) {
			ssize_t r = pread(fd, buf + got, len - got, (off_t)(foff + got));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				rc = terr(r < 0 ? errno : EIO, "%s: short read at %" PRIu64, path, foff + got);
				break;
			}
			got += (uint64_t)r;
		}
		if (rc == 0)
			rc = dsl_write_throttle(dsl, ds, len);
		if (rc == 0)
			rc = vol_write(v, off, len, buf);
		npatch++;
		nbytes += len;
	}
	if (rc == 0 && ferror(list))
		rc = terr(EIO, "%s: read error", argv[2]);
	fclose(list);
	if (fd >= 0)
		close(fd);
	free(buf);
	if (rc == 0)
		rc = dsl_commit(dsl);
	if (rc < 0) {
		int r = fail(volname);
		dsl_close(dsl);
		pool_close(pool);
		return r;
	}
	dsl_close(dsl);
	pool_close(pool);
	printf("patchvol: %" PRIu64 " patches, %" PRIu64 " bytes written to %s\n", npatch, nbytes, volname);
	return 0;
}
