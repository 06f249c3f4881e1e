/* util/guid.c — random 64-bit ids (see guid.h). */
#include "guid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Fill buf from getrandom(2); 0 on success, -1 if it is unavailable. */
static int rand_getrandom(void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = getrandom((char *)buf + got, len - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

static int rand_urandom(void *buf, size_t len)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -1;
	while (got < len) {
		ssize_t r = read(fd, (char *)buf + got, len - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	return got == len ? 0 : -1;
}

/* splitmix64 finaliser: a bijective mixer. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Last resort: distinct per call within the process (counter), and varied across processes. */
static uint64_t rand_fallback(void)
{
	static atomic_uint_fast64_t counter;
	struct timespec ts;
	uint64_t x;

	clock_gettime(CLOCK_REALTIME, &ts);
	x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	x ^= (uint64_t)getpid() << 32;
	x ^= (uint64_t)(uintptr_t)&ts;
	x += atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15ULL;
	return mix64(x);
}

uint64_t guid_new(void)
{
	uint64_t g = 0;

	while (g == 0) {
		if (rand_getrandom(&g, sizeof(g)) != 0 && rand_urandom(&g, sizeof(g)) != 0)
			g = rand_fallback();
	}
	return g;
}
