/* Unit tests for util/nicenum: values checked against OpenZFS zfs_nicenum_format(). */
#include "util/nicenum.h"
#include "util/tap.h"

static const struct {
	uint64_t n;
	const char *bytes, *num;
} cases[] = {
	{ 0, "0B", "0" },
	{ 1, "1B", "1" },
	{ 512, "512B", "512" },
	{ 1000, "1000B", "1000" },
	{ 1023, "1023B", "1023" },
	{ 1024, "1K", "1K" },
	{ 1025, "1.00K", "1.00K" },
	{ 1536, "1.50K", "1.50K" },
	{ 10239, "10.0K", "10.0K" },
	{ 10240, "10K", "10K" },
	{ 10241, "10.0K", "10.0K" },
	{ 98304, "96K", "96K" },
	{ 102399, "100K", "100K" },
	{ 102400, "100K", "100K" },
	{ 1023999, "1000K", "1000K" },
	{ 1048575, "1024K", "1024K" },
	{ 1048576, "1M", "1M" },
	{ 53372354, "50.9M", "50.9M" },
	{ 102400ULL * 1024 - 1, "100M", "100M" },
	{ 102400ULL * 1024, "100M", "100M" },
	{ 203ULL * 1048576 + 1, "203M", "203M" },
	{ 2093796557ULL, "1.95G", "1.95G" },
	{ 5ULL * 1024 * 1024 * 1024 * 1024 + 1, "5.00T", "5.00T" },
	{ 1000ULL * 1024 * 1024 * 1024 * 1024 * 1024 + 7, "1000P", "1000P" },
	{ (1ULL << 60) - 1, "1024P", "1024P" },
	{ 1ULL << 60, "1E", "1E" },
	{ 15910316763574489088ULL, "13.8E", "13.8E" },
	{ 1ULL << 63, "8E", "8E" },
	{ UINT64_MAX, "16.0E", "16.0E" },
};

static void test_table(void)
{
	char buf[NICENUM_BUFLEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		nicebytes(cases[i].n, buf, sizeof(buf));
		is_str(buf, cases[i].bytes, "nicebytes(%llu)", (unsigned long long)cases[i].n);
		nicenum(cases[i].n, buf, sizeof(buf));
		is_str(buf, cases[i].num, "nicenum(%llu)", (unsigned long long)cases[i].n);
	}
}

/* Every unit boundary and its neighbours: output is never longer than 5 characters. */
static void test_width(void)
{
	char buf[NICENUM_BUFLEN];
	int bad = 0;

	for (int sh = 0; sh < 64; sh++) {
		for (int d = -3; d <= 3; d++) {
			uint64_t n = (1ULL << sh) + (uint64_t)(int64_t)d;

			nicebytes(n, buf, sizeof(buf));
			if (strlen(buf) > 5) {
				diag("nicebytes(%llu) = '%s'", (unsigned long long)n, buf);
				bad++;
			}
		}
	}
	is_int(bad, 0, "nicebytes output fits in 5 characters around every power of two");
}

static void test_truncation(void)
{
	char buf[4] = "xxx", tiny[1] = { 'x' };

	nicebytes(1536, buf, sizeof(buf));
	is_str(buf, "1.5", "truncated to the buffer and NUL-terminated");
	nicebytes(1536, tiny, 1);
	is_int(tiny[0], 0, "len 1 gives an empty string");
	nicebytes(1536, NULL, 0);
	ok(1, "len 0 writes nothing");
}

int main(void)
{
	test_table();
	test_width();
	test_truncation();
	return done_testing();
}
