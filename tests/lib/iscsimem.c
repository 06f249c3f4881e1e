/* tests/lib/iscsimem.c — a standalone iSCSI target over memory, for black-box tests with real
 * initiators (libiscsi's iscsi-ls/iscsi-inq/iscsi-test-cu, qemu-img): the src/iscsi target with
 * the in-memory backend of src/iscsi/mem.c. Test code only. Built by the tests into their
 * scratch dir:
 *   cc -O2 -pthread -Isrc -o iscsimem tests/lib/iscsimem.c src/iscsi/[a-z]*.c src/util/err.c src/util/sock*.c -lcrypto
 * (without src/iscsi/test_*.c).
 *
 * usage: iscsimem [-t] [-b BS] [-c USER:SECRET[:TARGETSECRET]] [-p PARAMS] IQN SIZE ADDR:PORT
 *   IQN    the target's name; it has LUN 0 (writable, SIZE bytes, suffix K/M/G allowed) and
 *          LUN 1 (read-only, 1 MiB, byte i = i % 251)
 *   -t     LUN 0 is thin provisioned (UNMAP, WRITE SAME with UNMAP, GET LBA STATUS, LBPME)
 *   -b BS  logical block size of LUN 0 (default 512)
 *   -c     CHAP: one-way with USER/SECRET, mutual with TARGETSECRET too
 *   -p     negotiation offers: "MRDSL,MAXBURST,FIRSTBURST,IMMEDIATE,INITIALR2T" (e.g.
 *          "8192,262144,65536,0,1" for the RFC defaults)
 *   ADDR:PORT  port 0: any free port
 * Once listening it prints "ready PORT" on stdout; it runs until SIGTERM or SIGINT, then shuts
 * the target down (initiators are disconnected) and exits 0. Log lines go to stderr. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iscsi/iscsi.h"
#include "iscsi/mem.h"
#include "util/err.h"

static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	}
	if (*end || end == s) {
		fprintf(stderr, "iscsimem: bad size '%s'\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	int thin = 0, opt;
	uint32_t bs = 512;
	const char *chap = NULL, *params = NULL;
	while ((opt = getopt(argc, argv, "tb:c:p:")) != -1) {
		switch (opt) {
		case 't': thin = 1; break;
		case 'b': bs = (uint32_t)atoi(optarg); break;
		case 'c': chap = optarg; break;
		case 'p': params = optarg; break;
		default:
			fprintf(stderr, "usage: iscsimem [-t] [-b BS] [-c USER:SECRET[:TSECRET]] [-p PARAMS] IQN SIZE ADDR:PORT\n");
			return 2;
		}
	}
	if (argc - optind != 3) {
		fprintf(stderr, "usage: iscsimem [-t] [-b BS] [-c USER:SECRET[:TSECRET]] [-p PARAMS] IQN SIZE ADDR:PORT\n");
		return 2;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	uint64_t size = parse_size(argv[optind + 1]);
	iscsi_mem_t *m = iscsi_mem_new();
	iscsi_mem_target_t *t = m ? iscsi_mem_add_target(m, argv[optind]) : NULL;
	iscsi_mem_lu_t *ro;
	if (!t || !iscsi_mem_add_lu(m, t, 0, size / bs, bs, 0, thin) ||
	    !(ro = iscsi_mem_add_lu(m, t, 1, 2048, 512, 1, 0))) {
		fprintf(stderr, "iscsimem: %s\n", terr_msg());
		return 1;
	}
	for (uint64_t i = 0; i < 2048 * 512; i++)
		ro->data[i] = (uint8_t)(i % 251);
	memset(ro->mapped, 1, 2048);
	if (chap) {
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", chap);
		char *s1 = strchr(buf, ':'), *s2 = s1 ? strchr(s1 + 1, ':') : NULL;
		if (!s1) {
			fprintf(stderr, "iscsimem: -c USER:SECRET[:TARGETSECRET]\n");
			return 2;
		}
		*s1++ = 0;
		if (s2)
			*s2++ = 0;
		snprintf(t->chap_user, sizeof(t->chap_user), "%.63s", buf);
		snprintf(t->chap_secret, sizeof(t->chap_secret), "%.63s", s1);
		if (s2)
			snprintf(t->target_secret, sizeof(t->target_secret), "%.63s", s2);
	}
	iscsi_backend_t be;
	iscsi_mem_backend(m, &be);
	iscsi_target_srv_t *s = iscsi_srv_new(&be);
	if (!s) {
		fprintf(stderr, "iscsimem: %s\n", terr_msg());
		return 1;
	}
	if (params) {
		iscsi_params_t p;
		iscsi_srv_get_params(s, &p);
		if (sscanf(params, "%u,%u,%u,%d,%d", &p.max_recv_data_segment_length, &p.max_burst_length,
			   &p.first_burst_length, &p.immediate_data, &p.initial_r2t) != 5) {
			fprintf(stderr, "iscsimem: bad -p '%s'\n", params);
			return 2;
		}
		iscsi_srv_set_params(s, &p);
	}
	int port = iscsi_srv_listen(s, argv[optind + 2]);
	if (port < 0) {
		fprintf(stderr, "iscsimem: %s\n", terr_msg());
		iscsi_srv_free(s);
		iscsi_mem_free(m);
		return 1;
	}
	printf("ready %d\n", port);
	fflush(stdout);
	int sig;
	sigwait(&set, &sig);
	iscsi_srv_free(s);
	iscsi_mem_free(m);
	return 0;
}
