/* util/timefmt.c — clocks and the zfs(8) time format (see timefmt.h). */
#include "timefmt.h"

#include <stdio.h>
#include <time.h>

void fmt_creation(int64_t epoch, char *buf, size_t len)
{
	time_t t = (time_t)epoch;
	struct tm tm;

	if (len == 0)
		return;
	if ((int64_t)t != epoch || localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%a %b %e %k:%M %Y", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)epoch);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t now_epoch(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}
