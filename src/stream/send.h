/* stream/send.h — producing send streams from snapshots (zfs send). */
#ifndef TARN_STREAM_SEND_H
#define TARN_STREAM_SEND_H

#include <stdio.h>

#include "dsl/dsl.h"
#include "stream/format.h"

typedef struct send_opts {
	const char *to;   /* full snapshot name "pool/ds@snap" */
	const char *from; /* NULL (full), "@snap", "pool/ds@snap" or a bookmark "pool/ds#book" */
	int intermediates; /* -I: every snapshot between from and to */
	int replicate;     /* -R: the dataset and its descendants, properties, all snapshots */
	int props;         /* -p: properties in BEGIN */
	int compressed;    /* -c: blocks as stored (compressed) */
	uint64_t resume_offset; /* -t: start WRITE/FREE records at this byte offset */
	int resuming;
} send_opts_t;

/* One substream the send will produce (for -v/-n listings), in order. */
typedef struct send_item {
	char from[512], to[512]; /* from empty for a full stream */
	uint64_t size;           /* exact bytes of the substream */
} send_item_t;

typedef struct send_plan {
	send_item_t *items;
	size_t n;
	uint64_t total; /* bytes of the whole stream, packaging included */
} send_plan_t;

/* Resolve what to send and compute exact sizes without reading data blocks (cost proportional
 * to the change for incrementals). Caller frees with send_plan_free. */
int stream_plan(dsl_t *d, const send_opts_t *o, send_plan_t *plan);
void send_plan_free(send_plan_t *plan);

/* Write the stream. progress (may be NULL) is called after each record with bytes so far. */
int stream_send(dsl_t *d, const send_opts_t *o, FILE *out, void (*progress)(void *arg, uint64_t bytes),
		void *arg);

/* Resume tokens ("1-..." as in `zfs get receive_resume_token`): encode / decode. */
typedef struct resume_token {
	uint64_t to_guid, from_guid, offset;
	uint32_t features;
	char toname[512], fromname[512];
} resume_token_t;
void resume_token_encode(const resume_token_t *t, char *out, size_t len);
int resume_token_decode(const char *s, resume_token_t *t);

#endif
