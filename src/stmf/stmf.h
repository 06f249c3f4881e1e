/* stmf/stmf.h — COMSTAR's model of what tarnd offers over iSCSI, and its persistence.
 *
 * Logical units (LUs) are volumes or snapshots (read-only) named by a GUID (an NAA id:
 * "600144F0" + 24 random hex digits, upper case); targets are iSCSI node names (IQNs) with
 * their CHAP settings; target groups hold target IQNs, host groups initiator IQNs (a name is a
 * member of at most one group of each kind); views give an LU a LUN for the initiators of a
 * host group (or all) on the targets of a target group (or all).
 *
 * The model lives in $TARN_HOME/stmf.conf (docs/format.md §18), mode 0600 (it holds CHAP
 * secrets), rewritten atomically (temp file + rename). A change is a transaction:
 * stmf_begin (process mutex + flock on $TARN_HOME/stmf.lock, then load), edit, stmf_commit
 * (save) or stmf_abort. Readers that only look (stmf_load) need no lock: the file is replaced
 * whole. Everything read from the file is checked as if typed on the command line; errors
 * name the file and line.
 *
 * The mutators check their arguments first and change nothing on failure; errors are -errno
 * with a terr() message in COMSTAR's words where it has some. Uses util and pool/known (the
 * state directory) only. */
#ifndef TARN_STMF_STMF_H
#define TARN_STMF_STMF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STMF_GUID_LEN 32      /* hex digits */
#define STMF_IQN_MAX 223      /* RFC 3720 §3.2.6.1: iSCSI names are at most 223 bytes */
#define STMF_NAME_MAX 255     /* group names, aliases, CHAP user names, serials */
#define STMF_SECRET_MIN 12    /* CHAP secrets: 12..255 bytes (as itadm) */
#define STMF_SECRET_MAX 255
#define STMF_LUN_MAX 16383    /* flat/peripheral LUN space COMSTAR uses */
#define STMF_DATASET_MAX 512

enum { STMF_AUTH_NONE = 0, STMF_AUTH_CHAP = 1 };

typedef struct stmf_lu {
	char guid[STMF_GUID_LEN + 1]; /* upper case */
	char *dataset;                /* "pool/vol" or "pool/vol@snap" */
	char *alias;                  /* NULL: none */
	char *serial;                 /* NULL: none (the backend then uses the GUID) */
	int wcd;                      /* write cache disabled (COMSTAR's wcd); default 0 */
} stmf_lu_t;

typedef struct stmf_target {
	char *iqn;
	char *alias;         /* NULL: none */
	int auth;            /* STMF_AUTH_* */
	char *chap_user;     /* CHAP name initiators log in with (NULL: their node name) */
	char *chap_secret;   /* their secret (NULL: unset) */
	char *mutual_user;   /* the target's own CHAP name for mutual CHAP (NULL: its IQN) */
	char *mutual_secret; /* the target's secret (NULL: no mutual CHAP) */
} stmf_target_t;

typedef struct stmf_group {
	char *name;
	char **members;      /* normalised iSCSI names */
	size_t n, cap;
} stmf_group_t;

enum stmf_gkind { STMF_TG = 0, STMF_HG = 1 };

typedef struct stmf_view {
	char guid[STMF_GUID_LEN + 1];
	uint32_t entry;      /* view entry number, per LU */
	char *hg, *tg;       /* NULL: All */
	uint32_t lun;
} stmf_view_t;

typedef struct stmf {
	stmf_lu_t *lu;
	size_t nlu, caplu;
	stmf_target_t *tgt;
	size_t ntgt, captgt;
	stmf_group_t *grp[2]; /* [STMF_TG], [STMF_HG] */
	size_t ngrp[2], capgrp[2];
	stmf_view_t *view;
	size_t nview, capview;
} stmf_t;

void stmf_init(stmf_t *m);
void stmf_free(stmf_t *m);

/* ---- names and values (0 or -EINVAL with a message) ---- */
/* An iSCSI name per RFC 3720 §3.2.6.3: "iqn.YYYY-MM.reversed.domain[:anything]" (letters,
 * digits, '-', '.', ':'; upper case is folded to lower), "eui." + 16 hex digits or "naa." + 16
 * or 32 hex digits (hex folded to upper). The normalised form goes to out (>= 224 bytes). */
int stmf_check_iscsi_name(const char *name, char *out, size_t len);
/* A group name: 1..255 of letters, digits and "_-.:", not starting with '-'. */
int stmf_check_group_name(const char *name);
/* Free text (alias, serial, CHAP user): 1..max printable ASCII characters. */
int stmf_check_text(const char *what, const char *s, size_t max);
int stmf_check_secret(const char *s);
/* A GUID as typed (32 hex digits, any case) to its upper-case form (33 bytes). COMSTAR's
 * message: "<s>: must be 32 hexadecimal digits long". */
int stmf_parse_guid(const char *s, char out[STMF_GUID_LEN + 1]);
/* "/dev/zvol/rdsk/POOL/VOL", "/dev/zvol/dsk/POOL/VOL[@SNAP]" or a plain dataset name to the
 * dataset name (out, STMF_DATASET_MAX bytes). */
int stmf_parse_zvol_path(const char *path, char *out, size_t len);
/* A LUN as typed: 0..16383. */
int stmf_parse_lun(const char *s, uint32_t *lun);

/* ---- lookups ---- */
stmf_lu_t *stmf_lu_find(const stmf_t *m, const char *guid);
stmf_lu_t *stmf_lu_by_dataset(const stmf_t *m, const char *dataset);
stmf_target_t *stmf_target_find(const stmf_t *m, const char *iqn);
stmf_group_t *stmf_group_find(const stmf_t *m, int kind, const char *name);
/* Views of an LU, in entry order: fills v (up to max), returns how many there are. */
size_t stmf_views_of(const stmf_t *m, const char *guid, const stmf_view_t **v, size_t max);

/* ---- mutators ---- */
/* A new LU on dataset (guid NULL: a new random one). -EEXIST "in use" if dataset already is an
 * LU, or the GUID exists. */
int stmf_lu_add(stmf_t *m, const char *dataset, const char *guid, stmf_lu_t **out);
/* Delete an LU and its views. */
int stmf_lu_delete(stmf_t *m, const char *guid);
/* COMSTAR properties: wcd=true|false, alias=TEXT, serial=TEXT ("" clears alias/serial). */
int stmf_lu_set(stmf_t *m, stmf_lu_t *lu, const char *prop, const char *value);
/* A target (iqn NULL: a new "iqn.2010-09.org.tarn:<uuid>"). */
int stmf_target_add(stmf_t *m, const char *iqn, stmf_target_t **out);
int stmf_target_delete(stmf_t *m, const char *iqn);
/* Replace a string field of a target (value NULL clears it). */
int stmf_set_str(char **field, const char *value);
int stmf_group_create(stmf_t *m, int kind, const char *name);
/* -EBUSY if a view uses the group. */
int stmf_group_delete(stmf_t *m, int kind, const char *name);
int stmf_group_add_member(stmf_t *m, int kind, const char *group, const char *member);
int stmf_group_remove_member(stmf_t *m, int kind, const char *group, const char *member);
/* A view of LU guid for host group hg / target group tg (NULL: All), LUN *lun (or the lowest
 * free one if lun_auto). Refuses an identical view ("view entry exists") and a LUN taken for
 * an overlapping host/target combination ("LUN already in use"). Returns the entry number. */
int stmf_view_add(stmf_t *m, const char *guid, const char *hg, const char *tg, int lun_auto, uint32_t lun,
		  uint32_t *entry);
int stmf_view_remove(stmf_t *m, const char *guid, uint32_t entry);

/* ---- what an initiator sees ---- */
/* Does view v apply to initiator on target? */
int stmf_view_applies(const stmf_t *m, const stmf_view_t *v, const char *target, const char *initiator);
/* The LU at lun for initiator on target, or NULL. */
const stmf_lu_t *stmf_lu_at(const stmf_t *m, const char *target, const char *initiator, uint32_t lun);
/* Is dataset `name` used by an LU? family: also datasets below it and its snapshots (destroy,
 * rename); a snapshot spec "vol@a,b" or "vol@a%b" (destroy) matches its snapshots. Returns the
 * LU or NULL. */
const stmf_lu_t *stmf_dataset_in_use(const stmf_t *m, const char *name, int family);

/* ---- persistence ---- */
/* $TARN_HOME/stmf.conf */
const char *stmf_conf_path(char *buf, size_t len);
/* Parse text (len bytes) of file `file` into m (initialised here). */
int stmf_parse(const char *text, size_t len, const char *file, stmf_t *m);
/* The file's text (caller frees). */
int stmf_format(const stmf_t *m, char **out, size_t *len);
/* Load stmf.conf into m (a missing file is an empty model). */
int stmf_load(stmf_t *m);
/* Identity of the file's current version (0 when missing), to notice changes cheaply. */
typedef struct stmf_stamp {
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns;
	off_t size;
} stmf_stamp_t;
void stmf_stamp(stmf_stamp_t *s);
int stmf_stamp_eq(const stmf_stamp_t *a, const stmf_stamp_t *b);

/* A transaction: lock and load (m initialised here); commit writes and unlocks; abort
 * unlocks. Both free m. */
typedef struct stmf_txn {
	int fd;
	stmf_t m;
} stmf_txn_t;
int stmf_begin(stmf_txn_t *t);
int stmf_commit(stmf_txn_t *t);
void stmf_abort(stmf_txn_t *t);

#endif
