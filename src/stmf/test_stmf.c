/* stmf/test_stmf.c — the COMSTAR model: names, views and their conflicts, visibility, the busy
 * rule, stmf.conf round trips and what a hostile file gets. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stmf/stmf.h"
#include "util/err.h"
#include "util/tap.h"

#define I1 "iqn.1998-01.com.vmware:esx1-4a2b"
#define I2 "iqn.1998-01.com.vmware:esx2-77"
#define T1 "iqn.2010-09.org.tarn:target1"
#define T2 "iqn.2010-09.org.tarn:target2"

static void names(void)
{
	char out[STMF_IQN_MAX + 1];
	is_int(stmf_check_iscsi_name("iqn.2010-09.org.tarn:x", out, sizeof(out)), 0, "plain IQN");
	is_int(stmf_check_iscsi_name("IQN.1986-03.COM.Sun:02:ABC", out, sizeof(out)), 0, "upper-case IQN accepted");
	is_str(out, "iqn.1986-03.com.sun:02:abc", "IQN folded to lower case");
	is_int(stmf_check_iscsi_name("iqn.2010-09.org.tarn", out, sizeof(out)), 0, "IQN without a colon part");
	is_int(stmf_check_iscsi_name("eui.02004567a425678d", out, sizeof(out)), 0, "EUI-64 name");
	is_str(out, "eui.02004567A425678D", "EUI hex folded to upper case");
	is_int(stmf_check_iscsi_name("naa.52004567BA64678D", out, sizeof(out)), 0, "NAA 16 digits");
	is_int(stmf_check_iscsi_name("naa.600144F0C8C9C50000004D1F52DD0001", out, sizeof(out)), 0, "NAA 32 digits");
	const char *bad[] = { "", "iqn.", "iqn.2010-9.org.x", "iqn.2010-13.org.x", "iqn.2010-09", "iqn.2010-09.:x",
			      "iqn.2010-09.org..x", "iqn.2010-09.org.x:a b", "iqn.2010-09.org.x:a_b", "eui.1234",
			      "eui.02004567A425678G", "naa.1234567890", "foo.bar", "iqn.2010-09.org_x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(stmf_check_iscsi_name(bad[i], out, sizeof(out)), -EINVAL, "bad name '%s' refused", bad[i]);
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	memcpy(longname, "iqn.2010-09.org.x:", 18);
	longname[224] = 0;
	is_int(stmf_check_iscsi_name(longname, out, sizeof(out)), -EINVAL, "224-byte name refused");
	longname[223] = 0;
	is_int(stmf_check_iscsi_name(longname, out, sizeof(out)), 0, "223-byte name accepted");

	char g[STMF_GUID_LEN + 1];
	is_int(stmf_parse_guid("600144f0c8c9c50000004d1f52dd0001", g), 0, "GUID, lower case");
	is_str(g, "600144F0C8C9C50000004D1F52DD0001", "GUID upper-cased");
	is_int(stmf_parse_guid("600144f0c8c9c50000004d1f52dd000", g), -EINVAL, "31 digits refused");
	ok(strstr(terr_msg(), "must be 32 hexadecimal digits long") != NULL, "COMSTAR's message: %s", terr_msg());
	is_int(stmf_parse_guid("600144f0c8c9c50000004d1f52dd000x", g), -EINVAL, "non-hex refused");

	char ds[STMF_DATASET_MAX];
	is_int(stmf_parse_zvol_path("/dev/zvol/rdsk/other/backups", ds, sizeof(ds)), 0, "rdsk path");
	is_str(ds, "other/backups", "rdsk path names the volume");
	is_int(stmf_parse_zvol_path("/dev/zvol/dsk/p/v@s", ds, sizeof(ds)), 0, "dsk path of a snapshot");
	is_str(ds, "p/v@s", "snapshot name");
	is_int(stmf_parse_zvol_path("p/a/b", ds, sizeof(ds)), 0, "a plain dataset name");
	is_int(stmf_parse_zvol_path("/dev/sda", ds, sizeof(ds)), -EINVAL, "a device is not a volume");
	is_int(stmf_parse_zvol_path("/dev/zvol/rdsk/pool", ds, sizeof(ds)), -EINVAL, "a pool is not a volume");
	is_int(stmf_parse_zvol_path("/dev/zvol/rdsk/p/a//b", ds, sizeof(ds)), -EINVAL, "bad dataset name");
	is_int(stmf_parse_zvol_path("p/v#b", ds, sizeof(ds)), -EINVAL, "bookmark refused");

	uint32_t lun;
	is_int(stmf_parse_lun("16383", &lun), 0, "LUN 16383");
	is_int(stmf_parse_lun("16384", &lun), -EINVAL, "LUN 16384 refused");
	is_int(stmf_parse_lun("-1", &lun), -EINVAL, "negative LUN refused");
	is_int(stmf_parse_lun("", &lun), -EINVAL, "empty LUN refused");
	is_int(stmf_check_group_name("tg1"), 0, "group name");
	is_int(stmf_check_group_name("-x"), -EINVAL, "group name with a leading dash");
	is_int(stmf_check_group_name("a b"), -EINVAL, "group name with a space");
	is_int(stmf_check_secret("short"), -EINVAL, "short CHAP secret");
	is_int(stmf_check_secret("twelve-chars"), 0, "12-character CHAP secret");
	is_int(stmf_check_secret("twelve-chars\n"), -EINVAL, "secret with a control character");
}

static void model_ops(stmf_t *m)
{
	stmf_init(m);
	stmf_lu_t *a, *b;
	ok(stmf_lu_add(m, "/dev/zvol/rdsk/other/backups", NULL, &a) == 0, "LU on a volume");
	ok(!strncmp(a->guid, "600144F0", 8) && strlen(a->guid) == 32, "GUID is an NAA id: %s", a->guid);
	for (int i = 0; i < 32; i++)
		if (!strchr("0123456789ABCDEF", a->guid[i])) {
			ok(0, "GUID digit %d is upper-case hex", i);
			break;
		}
	is_int(stmf_lu_add(m, "other/backups", NULL, NULL), -EEXIST, "same volume twice refused");
	ok(strstr(terr_msg(), "in use") != NULL, "message: %s", terr_msg());
	char ga[STMF_GUID_LEN + 1];
	memcpy(ga, a->guid, sizeof(ga));
	is_int(stmf_lu_add(m, "other/vm@monday", "600144F0000000000000000000000002", &b), 0, "snapshot LU, GUID given");
	char gb[STMF_GUID_LEN + 1];
	memcpy(gb, b->guid, sizeof(gb));
	is_int(stmf_lu_add(m, "other/x", gb, NULL), -EEXIST, "duplicate GUID refused");
	a = stmf_lu_find(m, ga);
	is_int(stmf_lu_set(m, a, "wcd", "true"), 0, "wcd=true");
	is_int(a->wcd, 1, "write cache disabled");
	is_int(stmf_lu_set(m, a, "wcd", "maybe"), -EINVAL, "wcd=maybe refused");
	is_int(stmf_lu_set(m, a, "alias", "backup disk"), 0, "alias with a space");
	is_int(stmf_lu_set(m, a, "serial", "0123456789012345678901234567890123"), -EINVAL, "serial > 32 refused");
	is_int(stmf_lu_set(m, a, "size", "1G"), -EINVAL, "unknown property refused");

	is_int(stmf_target_add(m, T1, NULL), 0, "target 1");
	is_int(stmf_target_add(m, T2, NULL), 0, "target 2");
	is_int(stmf_target_add(m, "IQN.2010-09.org.tarn:TARGET1", NULL), -EEXIST, "same target (other case) refused");
	stmf_target_t *t3;
	is_int(stmf_target_add(m, NULL, &t3), 0, "generated target name");
	ok(!strncmp(t3->iqn, "iqn.2010-09.org.tarn:", 21), "generated IQN %s", t3->iqn);
	char norm[STMF_IQN_MAX + 1];
	is_int(stmf_check_iscsi_name(t3->iqn, norm, sizeof(norm)), 0, "generated IQN is valid");

	is_int(stmf_group_create(m, STMF_TG, "tg1"), 0, "create-tg tg1");
	is_int(stmf_group_create(m, STMF_TG, "tg1"), -EEXIST, "create-tg tg1 again refused");
	is_int(stmf_group_create(m, STMF_HG, "esx"), 0, "create-hg esx");
	is_int(stmf_group_add_member(m, STMF_TG, "tg1", T1), 0, "add-tg-member");
	is_int(stmf_group_add_member(m, STMF_TG, "nope", T1), -ENOENT, "member of a missing group");
	is_int(stmf_group_create(m, STMF_TG, "tg2"), 0, "create-tg tg2");
	is_int(stmf_group_add_member(m, STMF_TG, "tg2", T1), -EEXIST, "a target is in one target group only");
	is_int(stmf_group_add_member(m, STMF_HG, "esx", I1), 0, "add-hg-member");
	is_int(stmf_group_add_member(m, STMF_HG, "esx", "not-an-iqn"), -EINVAL, "bad member refused");
	is_int(stmf_group_remove_member(m, STMF_HG, "esx", I2), -ENOENT, "remove a non-member");

	uint32_t e;
	is_int(stmf_view_add(m, ga, NULL, "tg1", 1, 0, &e), 0, "add-view -t tg1 (auto LUN)");
	is_int(e, 0, "view entry 0");
	is_int(stmf_view_add(m, ga, NULL, "tg1", 1, 0, &e), -EEXIST, "identical view refused");
	ok(strstr(terr_msg(), "view entry exists") != NULL, "message: %s", terr_msg());
	is_int(stmf_view_add(m, gb, NULL, NULL, 0, 0, &e), -EEXIST, "LUN 0 for all overlaps tg1's LUN 0");
	ok(strstr(terr_msg(), "LUN already in use") != NULL, "message: %s", terr_msg());
	is_int(stmf_view_add(m, gb, NULL, NULL, 1, 0, &e), 0, "auto LUN for all");
	const stmf_view_t *v[4];
	is_int(stmf_views_of(m, gb, v, 4), 1, "one view of the snapshot LU");
	is_int(v[0]->lun, 1, "it got LUN 1");
	is_int(stmf_view_add(m, ga, "esx", "tg2", 0, 7, &e), 0, "second view of LU a: esx on tg2 as LUN 7");
	is_int(e, 1, "view entry 1");
	is_int(stmf_view_add(m, ga, "nohg", NULL, 1, 0, &e), -ENOENT, "unknown host group refused");
	is_int(stmf_view_add(m, "600144F0000000000000000000000099", NULL, NULL, 1, 0, &e), -ENOENT, "unknown LU refused");
	is_int(stmf_group_delete(m, STMF_TG, "tg1"), -EBUSY, "delete-tg of a group in a view refused");

	/* what initiators see */
	const stmf_lu_t *lu = stmf_lu_at(m, T1, I2, 0);
	ok(lu && !strcmp(lu->guid, ga), "T1 LUN 0 is LU a for any host");
	ok(stmf_lu_at(m, T2, I2, 0) == NULL, "T2 (not in tg1) has no LUN 0");
	lu = stmf_lu_at(m, T2, I1, 1);
	ok(lu && !strcmp(lu->guid, gb), "LUN 1 (all/all) on T2");
	ok(stmf_lu_at(m, "iqn.2010-09.org.tarn:unknown", I1, 1) == NULL, "unknown target sees nothing");
	ok(stmf_lu_at(m, T2, I2, 7) == NULL, "LUN 7 only for host group esx");
	{
		is_int(stmf_group_add_member(m, STMF_TG, "tg2", T2), 0, "T2 into tg2");
		lu = stmf_lu_at(m, T2, I1, 7);
		ok(lu && !strcmp(lu->guid, ga), "esx host sees LU a as LUN 7 on T2");
		lu = stmf_lu_at(m, T2, "IQN.1998-01.com.vmware:ESX1-4A2B", 7);
		ok(lu != NULL, "initiator names compare case-insensitively");
	}

	/* the busy rule */
	ok(stmf_dataset_in_use(m, "other/backups", 0) != NULL, "the volume is in use");
	ok(stmf_dataset_in_use(m, "other", 1) != NULL, "its parent, with family");
	ok(stmf_dataset_in_use(m, "other", 0) == NULL, "its parent, exactly: no");
	ok(stmf_dataset_in_use(m, "other/back", 1) == NULL, "a name prefix is not a parent");
	ok(stmf_dataset_in_use(m, "other/vm", 1) != NULL, "a volume whose snapshot is an LU (family)");
	ok(stmf_dataset_in_use(m, "other/vm", 0) == NULL, "... but not itself");
	ok(stmf_dataset_in_use(m, "other/vm@monday", 0) != NULL, "the snapshot LU");
	ok(stmf_dataset_in_use(m, "other/vm@sunday,monday", 0) != NULL, "in a snapshot list");
	ok(stmf_dataset_in_use(m, "other/vm@a%z", 0) != NULL, "a snapshot range");
	ok(stmf_dataset_in_use(m, "other/vm@tuesday", 0) == NULL, "another snapshot");
}

static int format_parse_same(const stmf_t *m, const char *what)
{
	char *t1, *t2;
	size_t l1, l2;
	stmf_t back;
	if (stmf_format(m, &t1, &l1) < 0)
		return ok(0, "%s: format", what);
	int rc = stmf_parse(t1, l1, "t.conf", &back);
	if (!ok(rc == 0, "%s: parse back (%s)", what, rc ? terr_msg() : "ok")) {
		free(t1);
		return 0;
	}
	stmf_format(&back, &t2, &l2);
	int same = l1 == l2 && !memcmp(t1, t2, l1);
	ok(same, "%s: identical after a round trip", what);
	if (!same)
		diag("%s\n---\n%s", t1, t2);
	free(t1);
	free(t2);
	stmf_free(&back);
	return same;
}

static void expect_bad(const char *text, const char *want, const char *what)
{
	stmf_t m;
	int rc = stmf_parse(text, strlen(text), "stmf.conf", &m);
	if (!ok(rc < 0, "hostile: %s refused", what)) {
		stmf_free(&m);
		return;
	}
	ok(strstr(terr_msg(), want) != NULL, "hostile: %s: message '%s' has '%s'", what, terr_msg(), want);
}

#define HDR "tarn-stmf 1\n"
#define LU "lu 600144F0000000000000000000000001 p/v wcd=false alias=- serial=-\n"

static void persistence(stmf_t *m)
{
	stmf_target_t *t = stmf_target_find(m, T1);
	t->auth = STMF_AUTH_CHAP;
	stmf_set_str(&t->chap_user, "esx user");
	stmf_set_str(&t->chap_secret, "s3cret=100% sure");
	stmf_set_str(&t->mutual_secret, "-mutual secret-");
	stmf_set_str(&t->alias, "-");
	format_parse_same(m, "full model with escapes");
	stmf_t empty;
	stmf_init(&empty);
	format_parse_same(&empty, "empty model");

	stmf_t z;
	is_int(stmf_parse("", 0, "x", &z), 0, "an empty file is an empty model");
	stmf_free(&z);
	is_int(stmf_parse("# only a comment\n" HDR "\n\n", strlen("# only a comment\n" HDR "\n\n"), "x", &z), 0,
	       "comments and blank lines");
	stmf_free(&z);

	expect_bad("lu x\n", "stmf.conf:1: not a tarn stmf.conf", "no header");
	expect_bad("tarn-stmf 2\n", "version 2 is not supported", "future version");
	expect_bad(HDR "frob 1\n", "stmf.conf:2: unknown record 'frob'", "unknown record");
	expect_bad(HDR LU LU, "stmf.conf:3:", "duplicate LU");
	expect_bad(HDR "lu 600144F0 p/v wcd=false alias=- serial=-\n", "must be 32 hexadecimal", "short GUID");
	expect_bad(HDR "lu 600144F0000000000000000000000001 p/v wcd=0 alias=- serial=-\n", "wcd", "bad wcd");
	expect_bad(HDR "lu 600144F0000000000000000000000001 p/v wcd=false alias=%ZZ serial=-\n", "escape", "bad escape");
	expect_bad(HDR "lu 600144F0000000000000000000000001 p/v wcd=false alias=%00 serial=-\n", "escape", "NUL escape");
	expect_bad(HDR "lu 600144F0000000000000000000000001 p/v wcd=false\n", "expected alias=", "missing field");
	expect_bad(HDR "lu 600144F0000000000000000000000001 /etc/passwd wcd=false alias=- serial=-\n", "not a volume",
		   "path outside /dev/zvol");
	expect_bad(HDR "view 600144F0000000000000000000000001 0 hg=* tg=* lun=0\n", "stmf.conf:2:", "view of no LU");
	expect_bad(HDR LU "view 600144F0000000000000000000000001 0 hg=* tg=* lun=99999\n", "invalid LUN", "LUN range");
	expect_bad(HDR LU "view 600144F0000000000000000000000001 0 hg=* tg=nope lun=0\n", "not found", "unknown tg");
	expect_bad(HDR LU "lu 600144F0000000000000000000000002 p/w wcd=false alias=- serial=-\n"
			  "view 600144F0000000000000000000000001 0 hg=* tg=* lun=3\n"
			  "view 600144F0000000000000000000000002 0 hg=* tg=* lun=3\n",
		   "LUN already in use", "two LUs on one LUN");
	expect_bad(HDR LU "view 600144F0000000000000000000000001 0 hg=* tg=* lun=3\n"
			  "view 600144F0000000000000000000000001 0 hg=* tg=* lun=4\n",
		   "stmf.conf:4:", "duplicate view entry");
	expect_bad(HDR "tg a iqn.2010-09.org.tarn:x\ntg b iqn.2010-09.org.tarn:x\n", "already exists", "member twice");
	expect_bad(HDR "hg a not_an_iqn\n", "not an iSCSI name", "bad initiator");
	expect_bad(HDR "target iqn.2010-09.org.tarn:x auth=chap alias=- chap-user=- chap-secret=short mutual-user=- "
		       "mutual-secret=-\n",
		   "CHAP secret must be", "short secret");
	expect_bad(HDR "target iqn.2010-09.org.tarn:x auth=maybe alias=- chap-user=- chap-secret=- mutual-user=- "
		       "mutual-secret=-\n",
		   "auth must be", "bad auth");
	char nul[] = HDR "lu 600144F0000000000000000000000001 p/v\0 wcd=false alias=- serial=-\n";
	stmf_t n;
	ok(stmf_parse(nul, sizeof(nul) - 1, "stmf.conf", &n) < 0 && strstr(terr_msg(), "NUL"), "NUL byte refused");
	size_t big = 70000;
	char *longline = malloc(big + 32);
	memcpy(longline, HDR, strlen(HDR));
	memset(longline + strlen(HDR), 'x', big);
	longline[strlen(HDR) + big] = 0;
	expect_bad(longline, "line longer", "a 70000-byte line");
	free(longline);

	/* the file itself, through a state directory of our own */
	char dir[] = "/tmp/test_stmf.XXXXXX";
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	setenv("TARN_HOME", dir, 1);
	stmf_t l;
	is_int(stmf_load(&l), 0, "no stmf.conf: empty model");
	is_int((int)l.nlu, 0, "no LUs");
	stmf_free(&l);
	stmf_stamp_t s0, s1;
	stmf_stamp(&s0);
	stmf_txn_t t1;
	is_int(stmf_begin(&t1), 0, "begin");
	is_int(stmf_lu_add(&t1.m, "p/v", NULL, NULL), 0, "add an LU in the transaction");
	is_int(stmf_commit(&t1), 0, "commit");
	stmf_stamp(&s1);
	ok(!stmf_stamp_eq(&s0, &s1), "the stamp changed");
	char path[4096];
	struct stat st;
	ok(stat(stmf_conf_path(path, sizeof(path)), &st) == 0 && (st.st_mode & 0777) == 0600, "stmf.conf is mode 0600");
	is_int(stmf_load(&l), 0, "load it");
	is_int((int)l.nlu, 1, "one LU");
	stmf_free(&l);
	is_int(stmf_begin(&t1), 0, "begin again");
	stmf_abort(&t1);
	FILE *f = fopen(path, "w");
	fputs(HDR "lu 600144F0 p/v\n", f);
	fclose(f);
	ok(stmf_load(&l) < 0 && strstr(terr_msg(), "stmf.conf:2:"), "a corrupt file names itself and the line: %s",
	   terr_msg());
	ok(stmf_begin(&t1) < 0, "no transaction over a corrupt file");
	unlink(path);
	char lock[4200];
	snprintf(lock, sizeof(lock), "%s/stmf.lock", dir);
	unlink(lock);
	rmdir(dir);
}

int main(void)
{
	names();
	stmf_t m;
	model_ops(&m);
	persistence(&m);
	is_int(stmf_lu_delete(&m, "600144F0000000000000000000000002"), 0, "delete-lu");
	ok(stmf_lu_at(&m, T2, I1, 1) == NULL, "its view went with it");
	is_int(stmf_lu_delete(&m, "600144F0000000000000000000000002"), -ENOENT, "delete it again: not found");
	is_int(stmf_target_delete(&m, T2), 0, "delete a target");
	stmf_free(&m);
	return done_testing();
}
