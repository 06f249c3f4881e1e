/* util/nicenum.h — human-readable sizes exactly as zfs(8)/zpool(8) print them
 * (OpenZFS zfs_nicebytes / zfs_nicenum, base 1024, at most 5 characters when possible). */
#ifndef TARN_UTIL_NICENUM_H
#define TARN_UTIL_NICENUM_H

#include <stddef.h>
#include <stdint.h>

/* Longest output plus NUL; a buffer of this size never truncates. */
#define NICENUM_BUFLEN 32

/* Format byte count n into buf (caller-owned, len bytes, always NUL-terminated if len > 0;
 * truncated if too short). Units B K M G T P E: "0B", "512B", "1023B", "1K", "50.9M", "16.0E".
 * Exact multiples of the unit print without decimals; otherwise the first of 2, 1, 0 decimals
 * whose text is at most 5 characters is used (printf rounding). Cannot fail. */
void nicebytes(uint64_t n, char *buf, size_t len);

/* Same as nicebytes() but with no suffix below 1024: "0", "512", "1K", "13.8E". */
void nicenum(uint64_t n, char *buf, size_t len);

#endif
