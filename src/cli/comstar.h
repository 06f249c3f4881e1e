/* cli/comstar.h — shared by the COMSTAR commands (sbdadm, stmfadm, itadm, `tarn iscsi`):
 * not part of cli.h's interface. */
#ifndef TARN_CLI_COMSTAR_H
#define TARN_CLI_COMSTAR_H

#include <stdint.h>

#include "stmf/stmf.h"

/* What the pools say about an LU's dataset. */
typedef struct comstar_lu_state {
	int online;        /* the dataset exists and is a usable volume or snapshot of one */
	int snapshot;
	uint64_t size;     /* volsize (0 when offline) */
	uint64_t volblocksize;
} comstar_lu_state_t;
void comstar_lu_state(const char *dataset, comstar_lu_state_t *st);

/* Begin a change of stmf.conf; on failure print "<prog>: <message>" and return 1. */
int comstar_begin(const char *prog, stmf_txn_t *t);
/* Save it (tarnd re-reads at once); 0, or 1 after printing the error. */
int comstar_commit(const char *prog, stmf_txn_t *t);
/* Abort t, print "<prog>: <terr_msg>", return 1. */
int comstar_fail(const char *prog, stmf_txn_t *t);
/* Load the model for a listing; on failure print and return 1. */
int comstar_load(const char *prog, stmf_t *m);
/* "usage: ..." for a usage error; returns 2. */
int comstar_usage(const char *prog, const char *msg);

/* sbdadm/stmfadm create-lu: check the volume and add the LU (props: "name=value"); prints
 * errors; 0 or 1. The new GUID goes to guid. */
int comstar_create_lu(const char *prog, const char *path, char **props, int nprops, char guid[STMF_GUID_LEN + 1]);

int sbdadm_main(const char *prog, int argc, char **argv);
int stmfadm_main(const char *prog, int argc, char **argv);
int itadm_main(const char *prog, int argc, char **argv);
/* Sub-command tables for `tarn iscsi SUB`: does prog handle sub? */
int sbdadm_has(const char *sub);
int itadm_has(const char *sub);

#endif
