/* Unit tests for util/timefmt and util/guid. */
#include "util/guid.h"
#include "util/tap.h"
#include "util/timefmt.h"

#include <stdlib.h>
#include <time.h>

static void test_creation(void)
{
	char buf[TIMEFMT_BUFLEN], small[8];

	setenv("TZ", "UTC", 1);
	tzset();
	fmt_creation(0, buf, sizeof(buf));
	is_str(buf, "Thu Jan  1  0:00 1970", "epoch 0 (day and hour space-padded, as zfs's %%e %%k)");
	fmt_creation(1732644780, buf, sizeof(buf));
	is_str(buf, "Tue Nov 26 18:13 2024", "a two-digit day and hour");
	fmt_creation(1709456700, buf, sizeof(buf));
	is_str(buf, "Sun Mar  3  9:05 2024", "a one-digit day and hour");
	fmt_creation(-86400, buf, sizeof(buf));
	is_str(buf, "Wed Dec 31  0:00 1969", "before the epoch");
	fmt_creation(1732644780, small, sizeof(small));
	is_str(small, "1732644", "too small for the date: the number, truncated");
	fmt_creation(INT64_MAX, buf, sizeof(buf));
	is_str(buf, "9223372036854775807", "unrepresentable year falls back to the number");
	fmt_creation(5, buf, 0);
	ok(1, "len 0 writes nothing");

	setenv("TZ", "EST5", 1);
	tzset();
	fmt_creation(0, buf, sizeof(buf));
	is_str(buf, "Wed Dec 31 19:00 1969", "local time zone is used");
}

static void test_clocks(void)
{
	uint64_t a = now_ns(), b = now_ns();
	int64_t e = now_epoch();

	ok(b >= a, "now_ns is monotonic");
	ok(a > 0, "now_ns is positive");
	ok(e > 1700000000 && e < 4102444800, "now_epoch is a plausible current time (%lld)", (long long)e);
	ok(e - (int64_t)time(NULL) <= 1 && (int64_t)time(NULL) - e <= 1, "now_epoch agrees with time()");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void test_guid(void)
{
	enum { N = 10000 };
	static uint64_t g[N];
	int zero = 0, dup = 0, bits[64] = { 0 }, lo = N, hi = 0;

	for (int i = 0; i < N; i++) {
		g[i] = guid_new();
		zero += g[i] == 0;
		for (int b = 0; b < 64; b++)
			bits[b] += (g[i] >> b) & 1;
	}
	qsort(g, N, sizeof(g[0]), cmp_u64);
	for (int i = 1; i < N; i++)
		dup += g[i] == g[i - 1];
	for (int b = 0; b < 64; b++) {
		lo = bits[b] < lo ? bits[b] : lo;
		hi = bits[b] > hi ? bits[b] : hi;
	}
	is_int(zero, 0, "guid_new never returns 0");
	is_int(dup, 0, "%d guids are distinct", N);
	/* each bit ~ Binomial(10000, 1/2): sd 50, so 4500..5500 is > 10 sd */
	ok(lo > 4500 && hi < 5500, "every bit is set about half the time (%d..%d)", lo, hi);
}

int main(void)
{
	test_creation();
	test_clocks();
	test_guid();
	return done_testing();
}
