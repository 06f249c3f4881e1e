/* cli/sendrecv.c — zfs send and zfs receive. */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "stream/recv.h"
#include "stream/send.h"
#include "util/err.h"
#include "util/nicenum.h"
#include "util/timefmt.h"

static void send_usage(FILE *f)
{
	fprintf(f, "usage:\n"
		   "\tsend [-DLPRbcehnpsvw] [-i|-I snapshot] <snapshot>\n"
		   "\tsend [-DnvPLecw] [-i snapshot|bookmark] <filesystem|volume|snapshot>\n"
		   "\tsend [-DnPpvLec] -t <receive_resume_token>\n\n"
		   "Writes a stream of the snapshot to standard output (never to a terminal).\n"
		   "\t-i FROM  incremental from FROM (@snap, pool/ds@snap or a bookmark pool/ds#book)\n"
		   "\t-I FROM  incremental with every snapshot between FROM and the snapshot\n"
		   "\t-R       replication package: the dataset, its descendants, their properties and\n"
		   "\t         all snapshots up to the snapshot (with -i/-I: from FROM on)\n"
		   "\t-p       include the dataset's properties\n"
		   "\t-c       blocks as stored (compressed blocks stay compressed in the stream)\n"
		   "\t-n -v -P dry run: print the exact stream size; the last line is size<TAB>bytes\n"
		   "\t-v       print the estimate, then progress on cli_err once a second\n"
		   "\t-t TOKEN resume an interrupted `zfs receive -s` (see receive_resume_token)\n"
		   "\t-L -e -w -h -D -b are accepted for compatibility: tarn blocks are at most\n"
		   "\t         128K (-L), it has no embedded blocks (-e), no encryption (-w: raw is\n"
		   "\t         the same as -c), no holds in streams (-h) and no dedup (-D).\n");
}

static void recv_usage(FILE *f)
{
	fprintf(f, "usage:\n"
		   "\treceive [-vnsFhu] [-o <property>=<value>] ... [-x <property>] ...\n"
		   "\t    <filesystem|volume|snapshot>\n"
		   "\treceive [-vnsFhu] [-o <property>=<value>] ... [-x <property>] ... \n"
		   "\t    [-d | -e] <filesystem>\n"
		   "\treceive -A <filesystem|volume>\n\n"
		   "Reads a stream from standard input. Each snapshot is received atomically: the data\n"
		   "goes into a hidden partial dataset that becomes visible only when the stream's END\n"
		   "record verifies; a corrupt or truncated stream leaves the target as it was.\n"
		   "\t-F  roll back the target to the stream's source snapshot first (a full stream\n"
		   "\t    replaces a target without snapshots); with -R also destroy target\n"
		   "\t    snapshots the sender no longer has\n"
		   "\t-s  keep an interrupted receive's partial state (receive_resume_token)\n"
		   "\t-A  discard that partial state\n"
		   "\t-d/-e  name the target after the sent dataset (all but the pool / the last part)\n"
		   "\t-n  read and verify the whole stream, change nothing\n"
		   "\t-u -h  accepted (tarn mounts nothing)\n");
}

struct progress {
	const char *name;
	time_t start, last;
	int on;
};

/* -v: once a second, the time, bytes sent and the average rate so far */
static void progress_cb(void *arg, uint64_t bytes)
{
	struct progress *p = arg;
	time_t now = time(NULL);
	if (!p->on || now == p->last)
		return;
	p->last = now;
	char b[32], r[32], t[32];
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(t, sizeof(t), "%H:%M:%S", &tm);
	nicebytes(bytes, b, sizeof(b));
	nicebytes(now > p->start ? bytes / (uint64_t)(now - p->start) : bytes, r, sizeof(r));
	fprintf(cli_err, "%s   %6s   %6s/s   %s\n", t, b, r, p->name);
}

static void print_plan(const send_plan_t *pl, int parsable, FILE *f)
{
	char b[32];
	for (size_t i = 0; i < pl->n; i++) {
		const send_item_t *it = &pl->items[i];
		if (parsable) {
			if (it->from[0])
				fprintf(f, "incremental\t%s\t%s\t%llu\n", it->from, it->to, (unsigned long long)it->size);
			else
				fprintf(f, "full\t%s\t%llu\n", it->to, (unsigned long long)it->size);
		} else {
			nicebytes(it->size, b, sizeof(b));
			if (it->from[0])
				fprintf(f, "send from %s to %s estimated size is %s\n", it->from, it->to, b);
			else
				fprintf(f, "full send of %s estimated size is %s\n", it->to, b);
		}
	}
	if (parsable) {
		fprintf(f, "size\t%llu\n", (unsigned long long)pl->total);
	} else {
		nicebytes(pl->total, b, sizeof(b));
		fprintf(f, "total estimated size is %s\n", b);
	}
}

/* Find a snapshot or bookmark by guid in the pool the token names (for -t). */
static dsl_ds_t *by_guid(dsl_t *d, uint64_t guid, int type)
{
	for (size_t i = 0; i < d->nds; i++)
		if (d->ds[i]->guid == guid && d->ds[i]->type == type)
			return d->ds[i];
	return NULL;
}

int cmd_send(int argc, char **argv)
{
	int c, dry = 0, verbose = 0, parsable = 0;
	send_opts_t o = { 0 };
	const char *token = NULL;
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "i:I:RpcLewhDnvPt:bs", NULL, NULL)) != -1) {
		switch (c) {
		case 'i': o.from = opt_arg; o.intermediates = 0; break;
		case 'I': o.from = opt_arg; o.intermediates = 1; break;
		case 'R': o.replicate = 1; break;
		case 'p': o.props = 1; break;
		case 'c': case 'w': o.compressed = 1; break;
		case 'n': dry = 1; break;
		case 'v': verbose = 1; break;
		case 'P': parsable = 1; break;
		case 't': token = opt_arg; break;
		case 'L': case 'e': case 'h': case 'D': case 'b': case 's': break;
		default: send_usage(cli_err); return 2;
		}
	}
	if (!token && argc - opt_ind != 1) {
		fprintf(cli_err, argc - opt_ind < 1 ? "missing snapshot argument\n" : "too many arguments\n");
		send_usage(cli_err);
		return 2;
	}
	if (!dry && isatty(fileno(cli_out))) {
		fprintf(cli_err, "Error: Stream can not be written to a terminal.\n"
				"You must redirect standard output.\n");
		return 1;
	}
	char to[1024], from[1024];
	resume_token_t t;
	cli_pool_t cp;
	int rc;
	if (token) {
		if (resume_token_decode(token, &t) < 0)
			return cli_fail("resume send");
		snprintf(to, sizeof(to), "%s", t.toname);
		rc = cli_open_for_ro(to, &cp);
		if (rc < 0)
			return cli_fail("resume send");
		dsl_ds_t *ts = by_guid(cp.dsl, t.to_guid, DS_SNAPSHOT);
		dsl_ds_t *fs = t.from_guid ? by_guid(cp.dsl, t.from_guid, DS_SNAPSHOT) : NULL;
		if (t.from_guid && !fs)
			fs = by_guid(cp.dsl, t.from_guid, DS_BOOKMARK);
		if (!ts) {
			cli_close(&cp, 0);
			fprintf(cli_err, "cannot resume send: '%s' used in the initial send no longer exists\n", t.toname);
			return 1;
		}
		if (t.from_guid && !fs) {
			cli_close(&cp, 0);
			fprintf(cli_err, "cannot resume send: incremental source 0x%llx no longer exists\n",
				(unsigned long long)t.from_guid);
			return 1;
		}
		dsl_fullname(cp.dsl, ts, to, sizeof(to));
		if (fs)
			dsl_fullname(cp.dsl, fs, from, sizeof(from));
		o.to = to;
		o.from = fs ? from : NULL;
		o.intermediates = 0;
		o.replicate = 0;
		o.compressed = (t.features & SRF_COMPRESSED) != 0;
		o.props = (t.features & SRF_PROPS) != 0;
		o.resuming = 1;
		o.resume_offset = t.offset;
	} else {
		o.to = argv[opt_ind];
		if (!strchr(o.to, '@')) {
			fprintf(cli_err, "cannot send '%s': sending a filesystem or volume needs a snapshot "
					"(not supported yet)\n", o.to);
			return 1;
		}
		if (cli_open_for_ro(o.to, &cp) < 0)
			return cli_fail("open '%s'", o.to);
	}
	rc = 0;
	if (verbose || dry) {
		send_plan_t pl;
		rc = stream_plan(cp.dsl, &o, &pl);
		if (rc == 0 && (verbose || parsable))
			print_plan(&pl, parsable, dry ? cli_out : cli_err);
		send_plan_free(&pl);
	}
	if (rc == 0 && !dry) {
		struct progress pg = { .name = o.to, .start = time(NULL), .last = time(NULL), .on = verbose };
		if (verbose && !parsable)
			fprintf(cli_err, "TIME         SENT       RATE   SNAPSHOT\n");
		FILE *out = cli_stream_open(&cp, "w");
		char *obuf = malloc(1 << 20); /* whole records per write(2), not 4 KiB pieces */
		if (obuf)
			setvbuf(out, obuf, _IOFBF, 1 << 20);
		rc = stream_send(cp.dsl, &o, out, progress_cb, &pg);
		if (fflush(out) == EOF && rc == 0)
			rc = terr(errno, "write error: %s", strerror(errno));
		setvbuf(out, NULL, _IONBF, 0); /* before obuf goes */
		cli_stream_close(out);
		free(obuf);
	}
	cli_close(&cp, 0);
	if (rc < 0) {
		if (rc == -EPIPE)
			return 1;
		return cli_fail("send '%s'", o.to);
	}
	return 0;
}

struct recv_note {
	int verbose, dryrun;
	time_t start;
};

static void recv_note(void *arg, const char *snap, const char *from, uint64_t bytes)
{
	struct recv_note *n = arg;
	if (!n->verbose)
		return;
	char b[32];
	nicebytes(bytes, b, sizeof(b));
	const char *verb = n->dryrun ? "would receive" : "received";
	if (from)
		fprintf(cli_err, "%s %s stream of %s (incremental from %s)\n", verb, b, snap, from);
	else
		fprintf(cli_err, "%s %s stream of %s (full)\n", verb, b, snap);
}

/* With -s, termination is an interruption to survive: the signal only breaks the read of the
 * stream (no SA_RESTART), and the usual error path keeps the partial state resumable. A second
 * signal acts as usual. */
static void interrupt_receive(int sig) { signal(sig, SIG_DFL); }

static void catch_termination(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = interrupt_receive;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int cmd_receive(int argc, char **argv)
{
	int c, abort_partial = 0;
	recv_opts_t o = { 0 };
	char *set[64], *excl[64];
	struct recv_note note = { .start = time(NULL) };
	opt_ind = 1;
	while ((c = opt_getopt_long(argc, argv, "FunvsdeAho:x:", NULL, NULL)) != -1) {
		switch (c) {
		case 'F': o.force = 1; break;
		case 'n': o.dryrun = 1; break;
		case 'v': note.verbose = 1; break;
		case 's': o.resumable = 1; break;
		case 'd': o.name_mode = 'd'; break;
		case 'e': o.name_mode = 'e'; break;
		case 'A': abort_partial = 1; break;
		case 'u': case 'h': break;
		case 'o':
			if (!strchr(opt_arg, '=') || o.nset == 64) {
				fprintf(cli_err, "missing '=' for property=value argument\n");
				return 2;
			}
			set[o.nset++] = opt_arg;
			break;
		case 'x':
			if (o.nexcl < 64)
				excl[o.nexcl++] = opt_arg;
			break;
		default: recv_usage(cli_err); return 2;
		}
	}
	o.set = set;
	o.exclude = excl;
	note.dryrun = o.dryrun;
	if (argc - opt_ind != 1) {
		fprintf(cli_err, argc - opt_ind < 1 ? "missing snapshot argument\n" : "too many arguments\n");
		recv_usage(cli_err);
		return 2;
	}
	o.target = argv[opt_ind];
	if (strchr(o.target, '@')) {
		fprintf(cli_err, "cannot receive: naming the snapshot in the target is not supported yet; "
				"name the dataset\n");
		return 1;
	}
	for (int i = 0; i < o.nset; i++) {
		char pn[PROP_NAME_MAX];
		const char *eq = strchr(set[i], '=');
		snprintf(pn, sizeof(pn), "%.*s", (int)(eq - set[i]), set[i]);
		if (dsl_prop_validate(pn, eq + 1, DS_VOLUME) < 0)
			return cli_fail("receive");
	}
	if (!abort_partial && !o.name_mode && cli_lu_busy(o.target, 0) < 0) { /* iSCSI LU (comstar.c) */
		fprintf(cli_err, "cannot receive: %s\n", terr_msg());
		return 1;
	}
	cli_pool_t cp;
	if (cli_open_for(o.target, &cp) < 0) {
		if (terr_code() == ENOENT)
			fprintf(cli_err, "cannot open '%.*s': no such pool\n", (int)strcspn(o.target, "/"), o.target);
		else
			cli_fail("open '%s'", o.target);
		return 1;
	}
	if (abort_partial) {
		int rc = stream_recv_abort(cp.dsl, o.target);
		if (rc < 0) {
			cli_close(&cp, 0);
			return cli_fail("resume abort");
		}
		return cli_close(&cp, 1) < 0 ? cli_fail("resume abort") : 0;
	}
	if (isatty(fileno(cli_in))) {
		cli_close(&cp, 0);
		fprintf(cli_err, "Error: Backup stream can not be read from a terminal.\n"
				"You must redirect standard input.\n");
		return 1;
	}
	if (o.resumable && !cli_in_daemon()) /* tarnd: the caller hanging up interrupts the read */
		catch_termination();
	FILE *in = cli_stream_open(&cp, "r");
	char *ibuf = malloc(1 << 20);
	if (ibuf)
		setvbuf(in, ibuf, _IOFBF, 1 << 20);
	int rc = stream_recv(cp.dsl, &o, in, recv_note, &note);
	setvbuf(in, NULL, _IONBF, 0); /* before ibuf goes */
	cli_stream_close(in);
	free(ibuf);
	if (rc < 0) {
		char msg[TERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", terr_msg());
		cli_close(&cp, 0);
		fprintf(cli_err, "cannot receive: %s\n", msg);
		return 1;
	}
	if (o.dryrun) {
		cli_close(&cp, 0);
		return 0;
	}
	return cli_close(&cp, 1) < 0 ? cli_fail("receive") : 0;
}
