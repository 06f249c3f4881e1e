/* stream/recv.h — applying send streams (zfs receive): atomically, into a hidden partial
 * dataset that becomes visible only when the END record verifies. */
#ifndef TARN_STREAM_RECV_H
#define TARN_STREAM_RECV_H

#include <stdio.h>

#include "dsl/dsl.h"

typedef struct recv_opts {
	const char *target;
	int force;      /* -F: roll back / replace the target; with -R drop what the sender no longer has */
	int dryrun;     /* -n: read and verify the whole stream, change nothing */
	int resumable;  /* -s: keep an interrupted receive's partial state, resumable with send -t */
	int name_mode;  /* 0, 'd' or 'e' (-d / -e) */
	char **set;     /* -o prop=value */
	int nset;
	char **exclude; /* -x prop */
	int nexcl;
} recv_opts_t;

/* Called for each snapshot received (for -v): its name and the stream bytes of it. */
typedef void (*recv_note_fn)(void *arg, const char *snapshot, const char *from, uint64_t bytes);

/* Receive a whole stream (a single substream or a replication package) from in. Each
 * substream is its own atomic step (committed at its END); on any error the target is left
 * as it was before that substream (or, with -s, with resumable partial state). Errors carry
 * OpenZFS's texts where tools parse them. */
int stream_recv(dsl_t *d, const recv_opts_t *o, FILE *in, recv_note_fn note, void *arg);

/* zfs receive -A: discard the partial state of an interrupted resumable receive into target. */
int stream_recv_abort(dsl_t *d, const char *target);

/* The receive_resume_token of a dataset name ("-" when there is none). */
void stream_resume_token(dsl_t *d, const char *name, char *out, size_t len);

#endif
