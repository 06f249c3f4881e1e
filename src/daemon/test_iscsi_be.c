/* daemon/test_iscsi_be.c — tarnd's iSCSI backend (iscsi_exports.c) without the protocol: a
 * pool and volumes in a scratch TARN_HOME, LUs made by the real commands, then the backend's
 * functions as a session would call them. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "daemon/daemon.h"
#include "daemon/internal.h"
#include "iscsi/iscsi.h"
#include "stmf/stmf.h"
#include "util/err.h"
#include "util/tap.h"

#define TGT "iqn.2010-09.org.tarn:unit"
#define INI "iqn.1998-01.com.vmware:esx1"
#define MB (1024 * 1024)

static FILE *devnull;

/* Run a command line quietly; returns its exit status. */
static int run(const char *line)
{
	char *copy = strdup(line), *argv[32], *save = NULL;
	int argc = 0;
	for (char *w = strtok_r(copy, " ", &save); w && argc < 31; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	cli_set_stdio(NULL, devnull, devnull);
	int rc = tarn_dispatch(argc, argv);
	cli_set_stdio(NULL, NULL, NULL);
	free(copy);
	return rc;
}

static int collect_str(void *arg, const char *s)
{
	char *buf = arg;
	strncat(buf, s, 255);
	strcat(buf, ";");
	return 0;
}

static uint64_t luns[16];
static int nluns;
static int collect_lun(void *arg, uint64_t lun)
{
	if (nluns < 16)
		luns[nluns++] = lun;
	return 0;
}

static uint64_t mapped_bytes, hole_bytes;
static int collect_ext(void *arg, uint64_t len, int mapped)
{
	*(mapped ? &mapped_bytes : &hole_bytes) += len;
	return 0;
}

static int busy_of(const char *name)
{
	daemon_pool_t *dp;
	if (daemon_pool_get("unit", &dp) < 0)
		return -1;
	int b = -1;
	if (daemon_pool_lock(dp) == 0) {
		dsl_ds_t *ds = dsl_lookup(dp->dsl, name);
		b = ds ? ds->busy : -1;
		daemon_pool_unlock(dp);
	}
	daemon_pool_put(dp);
	return b;
}

static char guid_of(const char *dataset, char out[STMF_GUID_LEN + 1])
{
	stmf_t m;
	out[0] = 0;
	if (stmf_load(&m) == 0) {
		stmf_lu_t *lu = stmf_lu_by_dataset(&m, dataset);
		if (lu)
			memcpy(out, lu->guid, STMF_GUID_LEN + 1);
		stmf_free(&m);
	}
	return out[0];
}

int main(void)
{
	char dir[] = "/tmp/test_iscsi_be.XXXXXX", cmd[1024];
	if (!mkdtemp(dir))
		return 1;
	setenv("TARN_HOME", dir, 1);
	devnull = fopen("/dev/null", "w");
	snprintf(cmd, sizeof(cmd), "%s/vdev", dir);
	FILE *f = fopen(cmd, "w");
	fclose(f);
	truncate(cmd, 512 * MB);
	snprintf(cmd, sizeof(cmd), "zpool create unit %s/vdev", dir);
	is_int(run(cmd), 0, "zpool create");
	is_int(run("zfs create -s -V 16M unit/thin"), 0, "sparse volume");
	is_int(run("zfs create -V 8M unit/thick"), 0, "thick volume");
	is_int(run("zfs snapshot unit/thick@s1"), 0, "snapshot");
	is_int(run("sbdadm create-lu /dev/zvol/rdsk/unit/thin"), 0, "sbdadm create-lu (volume)");
	is_int(run("sbdadm create-lu /dev/zvol/dsk/unit/thick@s1"), 0, "sbdadm create-lu (snapshot)");
	is_int(run("sbdadm create-lu /dev/zvol/rdsk/unit/nope"), 1, "create-lu of a missing volume fails");
	is_int(run("itadm create-target -n " TGT), 0, "itadm create-target");
	char gthin[STMF_GUID_LEN + 1], gsnap[STMF_GUID_LEN + 1];
	ok(guid_of("unit/thin", gthin) && guid_of("unit/thick@s1", gsnap), "GUIDs");
	snprintf(cmd, sizeof(cmd), "stmfadm add-view %s", gthin);
	is_int(run(cmd), 0, "add-view (all hosts, all targets)");
	snprintf(cmd, sizeof(cmd), "stmfadm add-view -n 5 %s", gsnap);
	is_int(run(cmd), 0, "add-view -n 5 of the snapshot");

	/* tarnd's side from here: the pool is imported into the daemon's table */
	is_int(daemon_iscsi_start(NULL), 0, "daemon_iscsi_start (no listener)");
	ok(busy_of("unit/thin") >= 1, "the LU's volume is held busy");
	ok(busy_of("unit/thick@s1") >= 1, "the snapshot LU is held busy");
	ok(busy_of("unit/thick") == 0, "the snapshot's volume is not");

	iscsi_backend_t be;
	daemon_iscsi_backend(&be);
	char targets[1024] = "";
	is_int(be.list_targets(be.arg, INI, collect_str, targets), 0, "list_targets");
	is_str(targets, TGT ";", "SendTargets offers the target");
	char user[256], secret[256], tsecret[256];
	is_int(be.login(be.arg, TGT, INI, user, sizeof(user), secret, sizeof(secret), tsecret, sizeof(tsecret)), 0,
	       "login without CHAP");
	is_str(secret, "", "no CHAP secret");
	is_int(be.login(be.arg, "iqn.2010-09.org.tarn:nope", INI, NULL, 0, NULL, 0, NULL, 0), -ENOENT, "unknown target");
	is_int(be.list_luns(be.arg, TGT, INI, collect_lun, NULL), 0, "list_luns");
	ok(nluns == 2 && luns[0] == 0 && luns[1] == 5, "LUNs 0 and 5 (%d)", nluns);

	void *h = NULL;
	iscsi_lu_info_t info;
	is_int(be.open(be.arg, TGT, INI, 3, &h, &info), -ENOENT, "no LUN 3");
	is_int(be.open(be.arg, TGT, INI, 0, &h, &info), 0, "open LUN 0");
	is_u64(info.blocks, 16 * MB / 512, "blocks of 512 bytes");
	is_int(info.block_size, 512, "block size");
	ok(info.naa[0] == 0x60 && info.naa[1] == 0x01 && info.naa[2] == 0x44 && info.naa[3] == 0xF0, "NAA 600144F0...");
	is_str(info.serial, gthin, "serial defaults to the GUID");
	is_int(info.thin, 1, "sparse volume: thin");
	is_int(info.write_cache, 1, "wcd=false: write cache on");
	is_int(info.readonly, 0, "read-write");

	uint8_t *w = malloc(MB), *r = malloc(MB);
	for (int i = 0; i < MB; i++)
		w[i] = (uint8_t)(i * 7 + 3);
	is_int(be.write(h, 4096, MB / 2, w, 0), 0, "write 512K");
	is_int(be.write(h, 8 * MB, 4096, w, 1), 0, "write with FUA");
	memset(r, 0xee, MB);
	is_int(be.read(h, 4096, MB / 2, r), 0, "read back");
	ok(!memcmp(r, w, MB / 2), "same bytes");
	is_int(be.flush(h), 0, "SYNCHRONIZE CACHE");
	mapped_bytes = hole_bytes = 0;
	is_int(be.extents(h, 0, 16 * MB, collect_ext, NULL), 0, "extents");
	ok(mapped_bytes > 0 && hole_bytes > 0 && mapped_bytes + hole_bytes == 16 * MB, "mapped %llu, holes %llu",
	   (unsigned long long)mapped_bytes, (unsigned long long)hole_bytes);
	is_int(be.unmap(h, 0, 2 * MB), 0, "unmap the first 2 MiB");
	is_int(be.read(h, 4096, 4096, r), 0, "read unmapped");
	ok(r[0] == 0 && !memcmp(r, r + 1, 4095), "reads as zeros");
	is_int(be.set_write_cache(h, 0), 0, "MODE SELECT: write cache off");
	stmf_t m;
	stmf_load(&m);
	stmf_lu_t *lu = stmf_lu_find(&m, gthin);
	ok(lu && lu->wcd == 1, "persisted as wcd=true");
	stmf_free(&m);
	is_int(be.gone(h), 0, "not gone");

	void *hs = NULL;
	is_int(be.open(be.arg, TGT, INI, 5, &hs, &info), 0, "open the snapshot LU");
	is_int(info.readonly, 1, "snapshot: read-only");
	is_int(be.write(hs, 0, 512, w, 0), -EPERM, "write refused");
	is_int(be.read(hs, 0, 512, r), 0, "read the snapshot");
	ok(hs && busy_of("unit/thick@s1") >= 2, "held by the handle too");

	/* removing the view makes the handle go */
	snprintf(cmd, sizeof(cmd), "stmfadm remove-view -l %s -a", gsnap);
	is_int(run(cmd), 0, "remove-view -a");
	daemon_iscsi_changed();
	is_int(be.gone(hs), 1, "the snapshot LU is gone for its session");
	is_int(be.gone(h), 0, "the other one is not");
	be.close(hs);
	snprintf(cmd, sizeof(cmd), "sbdadm delete-lu %s", gsnap);
	is_int(run(cmd), 0, "delete-lu");
	daemon_iscsi_changed();
	is_int(busy_of("unit/thick@s1"), 0, "no longer busy");
	be.close(h);
	ok(busy_of("unit/thin") >= 1, "LU without sessions stays held");

	daemon_iscsi_stop();
	is_int(busy_of("unit/thin"), 0, "stop drops the marks");
	daemon_pools_close_all();
	free(w);
	free(r);
	fclose(devnull);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
