/* Unit tests for backup/retention: policy parsing and the keep decision (keep-last, per-period
 * counts on UTC hours/days/ISO weeks/months/years, protection, order independence), checked
 * against hand-made cases and against a brute-force model on random inputs. */
#include "backup/backup.h"
#include "util/err.h"
#include "util/tap.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define H 3600LL
#define D (24 * H)

/* 2026-01-05 00:00:00 UTC, a Monday */
#define MON 1767571200LL

static int64_t utc(int y, int mo, int d, int h)
{
	struct tm tm = {0};
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	return (int64_t)timegm(&tm);
}

/* keep string: '1'/'0' per snapshot */
static void kept(const backup_keep_t *k, int n, const int64_t *t, const int *prot, char *out)
{
	int keep[64];
	backup_retention(k, n, t, prot, keep);
	for (int i = 0; i < n; i++)
		out[i] = keep[i] ? '1' : '0';
	out[n] = 0;
}

static void test_parse(void)
{
	backup_keep_t k;
	char buf[128];

	ok(backup_keep_parse("5", &k) == 0 && k.set && k.last == 5 && !k.daily, "bare number is keep-last");
	ok(backup_keep_parse("last=3,hourly=24,daily=7,weekly=4,monthly=12,yearly=2", &k) == 0,
	   "all fields parse");
	is_int(k.last + k.hourly + k.daily + k.weekly + k.monthly + k.yearly, 3 + 24 + 7 + 4 + 12 + 2, "all values");
	backup_keep_format(&k, buf, sizeof(buf));
	is_str(buf, "last=3,hourly=24,daily=7,weekly=4,monthly=12,yearly=2", "format round trip");
	ok(backup_keep_parse("daily=7,last=1", &k) == 0 && k.daily == 7 && k.last == 1, "any order");
	backup_keep_format(&k, buf, sizeof(buf));
	is_str(buf, "last=1,daily=7", "format canonical order");
	k.set = 0;
	backup_keep_format(&k, buf, sizeof(buf));
	is_str(buf, "all", "unset policy formats as all");

	static const char *bad[] = {"", "daily", "daily=", "daily=x", "fortnightly=2", "last=1,", "last=-1",
				    "last=1,,daily=2", "=3", "last=99999999999", "1x", " 5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		k.last = 777;
		k.set = 0;
		ok(backup_keep_parse(bad[i], &k) == -EINVAL && k.last == 777 && terr_msg()[0],
		   "'%s' rejected (%s), policy untouched", bad[i], terr_msg());
	}
}

static void test_cases(void)
{
	backup_keep_t k = {0};
	char got[65];
	int64_t t[16];

	/* unset policy keeps everything */
	for (int i = 0; i < 5; i++)
		t[i] = MON + i * H;
	kept(&k, 5, t, NULL, got);
	is_str(got, "11111", "unset policy keeps all");

	/* keep-last */
	backup_keep_parse("last=2", &k);
	kept(&k, 5, t, NULL, got);
	is_str(got, "00011", "last=2 keeps the two newest");
	int prot[16] = {1, 0, 0, 0, 0};
	kept(&k, 5, t, prot, got);
	is_str(got, "10011", "a protected snapshot is kept besides");
	backup_keep_parse("last=0", &k);
	kept(&k, 5, t, NULL, got);
	is_str(got, "00000", "last=0 keeps nothing unprotected");
	is_int(backup_retention(&k, 5, t, NULL, (int[16]){0}), 5, "returns the prune count");

	/* input order does not matter: newest by time, not position */
	int64_t rev[5] = {t[4], t[3], t[2], t[1], t[0]};
	backup_keep_parse("last=2", &k);
	kept(&k, 5, rev, NULL, got);
	is_str(got, "11000", "order independent");

	/* hourly: several snapshots per hour, keep the newest of each of the last 3 hours */
	int64_t hs[8] = {MON + 10, MON + 1800, MON + H + 5, MON + H + 3000, MON + 2 * H, MON + 3 * H + 1,
			 MON + 3 * H + 2, MON + 3 * H + 3};
	backup_keep_parse("hourly=3", &k);
	kept(&k, 8, hs, NULL, got);
	is_str(got, "00011001", "hourly=3: newest of each of the 3 newest hours");

	/* daily across a gap: periods that have snapshots count, not calendar days */
	int64_t ds[5] = {MON, MON + 5 * D, MON + 5 * D + H, MON + 9 * D, MON + 9 * D + 2 * H};
	backup_keep_parse("daily=2", &k);
	kept(&k, 5, ds, NULL, got);
	is_str(got, "00101", "daily=2 over a gap");
	backup_keep_parse("daily=10", &k);
	kept(&k, 5, ds, NULL, got);
	is_str(got, "10101", "daily=10 with only 3 days of snapshots");

	/* weekly: ISO weeks start on Monday (UTC) */
	int64_t ws[4] = {MON - 1 /* Sunday 23:59:59 */, MON /* Monday */, MON + 6 * D /* Sunday */,
			 MON + 7 * D /* next Monday */};
	backup_keep_parse("weekly=3", &k);
	kept(&k, 4, ws, NULL, got);
	is_str(got, "1011", "weekly=3: Sunday ends a week, Monday starts one");

	/* monthly and yearly on calendar boundaries */
	int64_t ms[6] = {utc(2025, 1, 31, 23), utc(2025, 2, 1, 0), utc(2025, 2, 28, 12), utc(2025, 12, 31, 23),
			 utc(2026, 1, 1, 0), utc(2026, 1, 15, 0)};
	backup_keep_parse("monthly=3", &k);
	kept(&k, 6, ms, NULL, got);
	is_str(got, "001101", "monthly=3");
	backup_keep_parse("yearly=5", &k);
	kept(&k, 6, ms, NULL, got);
	is_str(got, "000101", "yearly=5: newest of 2025 and of 2026");

	/* rules combine as a union */
	backup_keep_parse("last=1,monthly=2", &k);
	kept(&k, 6, ms, NULL, got);
	is_str(got, "000101", "last=1 + monthly=2");
	backup_keep_parse("last=2,yearly=1", &k);
	kept(&k, 6, ms, NULL, got);
	is_str(got, "000011", "last=2 + yearly=1 (same snapshot counted once)");

	/* equal times: the higher index counts as newer */
	int64_t eq[3] = {MON, MON, MON};
	backup_keep_parse("last=1", &k);
	kept(&k, 3, eq, NULL, got);
	is_str(got, "001", "ties broken by index");
	backup_keep_parse("daily=1", &k);
	kept(&k, 3, eq, NULL, got);
	is_str(got, "001", "ties broken by index (period)");

	/* times before 1970 bucket correctly (floor division) */
	int64_t neg[3] = {-2 * H + 1, -H - 1, -H + 1};
	backup_keep_parse("hourly=5", &k);
	kept(&k, 3, neg, NULL, got);
	is_str(got, "011", "negative times: hour buckets by floor");

	is_int(backup_retention(&k, 0, NULL, NULL, NULL), 0, "no snapshots");
}

/* Brute-force model: a snapshot is kept by a period rule iff it is the newest in its bucket and
 * its bucket is among the N newest buckets. */
static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int64_t model_bucket(int p, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	int64_t days = (t - (t % D + D) % D) / D;
	switch (p) {
	case 0: return (t - (t % H + H) % H) / H;
	case 1: return days;
	case 2: return (days + 3 - ((days + 3) % 7 + 7) % 7) / 7;
	case 3: return (int64_t)tm.tm_year * 12 + tm.tm_mon;
	default: return tm.tm_year;
	}
}

static int newer(const int64_t *t, int a, int b) { return t[a] > t[b] || (t[a] == t[b] && a > b); }

static void test_model(void)
{
	int bad = 0;
	for (int iter = 0; iter < 2000; iter++) {
		int n = 1 + (int)(rnd() % 40);
		int64_t t[64];
		int prot[64], keep[64];
		int64_t span = (rnd() % 4 == 0) ? 800 * D : 20 * D;
		for (int i = 0; i < n; i++) {
			t[i] = MON + (int64_t)(rnd() % (uint64_t)span) - span / 2;
			prot[i] = rnd() % 10 == 0;
		}
		backup_keep_t k = {.set = 1};
		unsigned *f[6] = {&k.last, &k.hourly, &k.daily, &k.weekly, &k.monthly, &k.yearly};
		for (int i = 0; i < 6; i++)
			*f[i] = rnd() % 3 == 0 ? (unsigned)(rnd() % 6) : 0;
		int pruned = backup_retention(&k, n, t, prot, keep);
		int npr = 0;
		for (int i = 0; i < n; i++) {
			int want = prot[i];
			int rank = 0; /* how many are newer */
			for (int j = 0; j < n; j++)
				rank += j != i && newer(t, j, i);
			if ((unsigned)rank < k.last)
				want = 1;
			for (int p = 0; p < 5; p++) {
				unsigned cnt = *f[p + 1];
				if (!cnt)
					continue;
				int64_t b = model_bucket(p, t[i]);
				int newest = 1;
				for (int j = 0; j < n; j++)
					if (j != i && model_bucket(p, t[j]) == b && newer(t, j, i))
						newest = 0;
				if (!newest)
					continue;
				/* distinct buckets newer than b */
				int64_t seen[64];
				int ns = 0;
				for (int j = 0; j < n; j++) {
					int64_t bj = model_bucket(p, t[j]);
					if (bj <= b)
						continue;
					int dup = 0;
					for (int s = 0; s < ns; s++)
						dup |= seen[s] == bj;
					if (!dup)
						seen[ns++] = bj;
				}
				if ((unsigned)ns < cnt)
					want = 1;
			}
			if (keep[i] != want && bad++ < 5)
				diag("iter %d: snapshot %d (t=%lld) keep=%d want=%d", iter, i, (long long)t[i], keep[i], want);
			npr += !keep[i];
		}
		if (npr != pruned && bad++ < 5)
			diag("iter %d: returned %d, pruned %d", iter, pruned, npr);
	}
	is_int(bad, 0, "2000 random policies agree with the brute-force model");
}

int main(void)
{
	test_parse();
	test_cases();
	test_model();
	return done_testing();
}
