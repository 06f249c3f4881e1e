/* backup/retention.c — which snapshots a retention policy keeps (see backup.h). Proxmox Backup
 * Server's rule, which sanoid's counts approximate: keep-last N keeps the N newest; each period
 * count N keeps the newest snapshot of each of the N newest periods (UTC hours, days, ISO weeks
 * starting Monday, months, years) that contain a snapshot. A snapshot kept by any rule is kept. */
#include "backup/backup.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"
#include "util/strnum.h"

static int64_t fdiv(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

enum { P_HOUR, P_DAY, P_WEEK, P_MONTH, P_YEAR, P_N };

static int64_t bucket(int p, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	switch (p) {
	case P_HOUR: return fdiv(t, 3600);
	case P_DAY: return fdiv(t, 86400);
	case P_WEEK: return fdiv(fdiv(t, 86400) + 3, 7); /* 1970-01-01 was a Thursday */
	default:
		if (!gmtime_r(&tt, &tm))
			return fdiv(t, 86400); /* out of range: any stable bucketing will do */
		return p == P_MONTH ? (int64_t)tm.tm_year * 12 + tm.tm_mon : (int64_t)tm.tm_year;
	}
}

static const int64_t *sort_times;

static int cmp_newest_first(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	if (sort_times[x] != sort_times[y])
		return sort_times[x] > sort_times[y] ? -1 : 1;
	return y - x;
}

int backup_retention(const backup_keep_t *k, int n, const int64_t *times, const int *protect, int *keep)
{
	if (n <= 0)
		return 0;
	if (!k->set) {
		for (int i = 0; i < n; i++)
			keep[i] = 1;
		return 0;
	}
	int *ord = malloc((size_t)n * sizeof(*ord));
	if (!ord) { /* cannot decide: keep everything */
		for (int i = 0; i < n; i++)
			keep[i] = 1;
		return 0;
	}
	for (int i = 0; i < n; i++) {
		ord[i] = i;
		keep[i] = protect && protect[i];
	}
	sort_times = times;
	qsort(ord, (size_t)n, sizeof(*ord), cmp_newest_first);
	for (int i = 0; i < n && (unsigned)i < k->last; i++)
		keep[ord[i]] = 1;
	const unsigned counts[P_N] = {k->hourly, k->daily, k->weekly, k->monthly, k->yearly};
	for (int p = 0; p < P_N; p++) {
		unsigned got = 0;
		int64_t prev = 0;
		for (int i = 0; i < n && got < counts[p]; i++) {
			int64_t b = bucket(p, times[ord[i]]);
			if (got && b == prev)
				continue;
			keep[ord[i]] = 1;
			prev = b;
			got++;
		}
	}
	free(ord);
	int pruned = 0;
	for (int i = 0; i < n; i++)
		pruned += !keep[i];
	return pruned;
}

static const struct {
	const char *name;
	size_t off;
} keep_fields[] = {
	{"last", offsetof(backup_keep_t, last)},       {"hourly", offsetof(backup_keep_t, hourly)},
	{"daily", offsetof(backup_keep_t, daily)},     {"weekly", offsetof(backup_keep_t, weekly)},
	{"monthly", offsetof(backup_keep_t, monthly)}, {"yearly", offsetof(backup_keep_t, yearly)},
};
#define NFIELDS (sizeof(keep_fields) / sizeof(keep_fields[0]))

static int count_parse(const char *s, size_t len, unsigned *out)
{
	char buf[16];
	uint64_t v;
	if (len == 0 || len >= sizeof(buf))
		return terr(EINVAL, "bad count '%.*s'", (int)(len > 20 ? 20 : len), s);
	memcpy(buf, s, len);
	buf[len] = 0;
	if (parse_u64(buf, &v) < 0 || v > 1000000)
		return terr(EINVAL, "bad count '%s' (0 to 1000000)", buf);
	*out = (unsigned)v;
	return 0;
}

int backup_keep_parse(const char *s, backup_keep_t *k)
{
	backup_keep_t nk = {0};
	nk.set = 1;
	if (!*s)
		return terr(EINVAL, "empty retention policy");
	if (strspn(s, "0123456789") == strlen(s)) {
		TRY(count_parse(s, strlen(s), &nk.last));
		*k = nk;
		return 0;
	}
	const char *p = s;
	while (*p) {
		size_t len = strcspn(p, ",");
		const char *eq = memchr(p, '=', len);
		if (!eq)
			return terr(EINVAL, "'%.*s' is not NAME=COUNT (names: last, hourly, daily, weekly, monthly, yearly)",
				    (int)(len > 40 ? 40 : len), p);
		size_t nl = (size_t)(eq - p);
		size_t f;
		for (f = 0; f < NFIELDS; f++)
			if (strlen(keep_fields[f].name) == nl && !memcmp(keep_fields[f].name, p, nl))
				break;
		if (f == NFIELDS)
			return terr(EINVAL, "unknown period '%.*s' (last, hourly, daily, weekly, monthly, yearly)",
				    (int)(nl > 40 ? 40 : nl), p);
		TRY(count_parse(eq + 1, len - nl - 1, (unsigned *)((char *)&nk + keep_fields[f].off)));
		p += len;
		if (*p == ',') {
			p++;
			if (!*p)
				return terr(EINVAL, "trailing comma");
		}
	}
	*k = nk;
	return 0;
}

void backup_keep_format(const backup_keep_t *k, char *buf, size_t len)
{
	size_t pos = 0;
	if (len == 0)
		return;
	buf[0] = 0;
	if (!k->set) {
		snprintf(buf, len, "all");
		return;
	}
	for (size_t f = 0; f < NFIELDS; f++) {
		unsigned v = *(const unsigned *)((const char *)k + keep_fields[f].off);
		if (!v || pos >= len)
			continue;
		pos += (size_t)snprintf(buf + pos, len - pos, "%s%s=%u", pos ? "," : "", keep_fields[f].name, v);
	}
	if (!buf[0])
		snprintf(buf, len, "none");
}
