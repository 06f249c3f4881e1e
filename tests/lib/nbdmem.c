/* tests/lib/nbdmem.c — a standalone NBD server over memory, for black-box tests with real
 * clients (nbdinfo, qemu-img, qemu-io, nbdcopy, nbdsh): the src/nbd server with the in-memory
 * backend of src/nbd/mem.c. Test code only. Built by the tests into their scratch dir:
 *   cc -O2 -pthread -Isrc -o nbdmem tests/lib/nbdmem.c src/nbd/{handshake,io,mem,server,transmit}.c src/util/err.c src/util/sock*.c
 *
 * usage: nbdmem SIZE WHERE...
 *   SIZE   bytes of the writable export "mem" (suffix K, M or G allowed)
 *   WHERE  a Unix socket path (contains '/') or ADDR:PORT (port 0: any free port); several allowed
 * Exports: "mem" (writable, SIZE bytes, all holes at start, description "tarn nbdmem test
 * export"), the default export; "ro" (read-only, 1 MiB, byte i = i % 251, allocated). Meta
 * contexts: base:allocation and "nbdmem:dirty" (flag 1 on blocks changed since start).
 * Once listening it prints "ready PORT" (PORT of the first TCP listener, else 0) on stdout;
 * it runs until SIGTERM or SIGINT, then shuts the server down (clients are disconnected) and
 * exits 0. Server log lines go to stderr. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbd/mem.h"
#include "nbd/nbd.h"
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
		fprintf(stderr, "nbdmem: bad size '%s'\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: nbdmem SIZE WHERE...\n");
		return 2;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread starts: only sigwait gets them */

	nbd_mem_t *m = nbd_mem_new();
	nbd_mem_export_t *ro;
	if (!m || !nbd_mem_add(m, "mem", parse_size(argv[1]), 0, "tarn nbdmem test export") ||
	    !(ro = nbd_mem_add(m, "ro", 1 << 20, 1, NULL)) || nbd_mem_set_ctx(m, "nbdmem:dirty") < 0) {
		fprintf(stderr, "nbdmem: %s\n", terr_msg());
		return 1;
	}
	for (uint64_t i = 0; i < ro->size; i++)
		ro->data[i] = (uint8_t)(i % 251);
	memset(ro->hole, 0, ro->size / NBD_MEM_BLOCK);

	nbd_backend_t be;
	nbd_mem_backend(m, &be);
	nbd_server_t *s = nbd_server_new(&be);
	if (!s) {
		fprintf(stderr, "nbdmem: %s\n", terr_msg());
		return 1;
	}
	int port = 0;
	for (int i = 2; i < argc; i++) {
		int rc = nbd_server_listen(s, argv[i]);
		if (rc < 0) {
			fprintf(stderr, "nbdmem: %s\n", terr_msg());
			nbd_server_free(s);
			nbd_mem_free(m);
			return 1;
		}
		if (rc > 0 && !port)
			port = rc;
	}
	printf("ready %d\n", port);
	fflush(stdout);
	int sig;
	sigwait(&set, &sig);
	nbd_server_free(s);
	nbd_mem_free(m);
	return 0;
}
