/* util/timefmt.h — clocks and the zfs(8) time format. */
#ifndef TARN_UTIL_TIMEFMT_H
#define TARN_UTIL_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* A buffer size that always holds fmt_creation()'s whole output. */
#define TIMEFMT_BUFLEN 64

/* Format epoch seconds as zfs(8) prints the creation property: strftime "%a %b %e %k:%M %Y"
 * in local time, e.g. "Tue Nov 26 18:13 2024", "Sun Mar  3  9:05 2024" (day and hour are
 * space-padded). If the time cannot be converted or does not fit, prints the decimal epoch
 * as zfs does ("1732644780"), truncated to len. buf: caller-owned, len bytes, NUL-terminated
 * if len > 0. Cannot fail. */
void fmt_creation(int64_t epoch, char *buf, size_t len);

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC), for measuring intervals. */
uint64_t now_ns(void);

/* Wall-clock time in seconds since the Unix epoch (CLOCK_REALTIME), for timestamps. */
int64_t now_epoch(void);

#endif
