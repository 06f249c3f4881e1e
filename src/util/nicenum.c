/* util/nicenum.c — zfs-compatible human-readable numbers (see nicenum.h).
 *
 * Same algorithm as OpenZFS zfs_nicenum_format(): divide by 1024 until below 1024 (at most up
 * to E), print integers for index 0 or exact multiples, else try "%.2f", "%.1f", "%.0f" and keep
 * the first that fits in 5 characters. The divisor 1024^index is a power of two, so the double
 * division is exact up to the rounding of num itself, as in OpenZFS.
 */
#include "nicenum.h"

#include <stdio.h>

#define NICE_MAX_INDEX 6 /* E */

static void nice_format(uint64_t num, char *buf, size_t len, const char *const units[])
{
	uint64_t n = num, div;
	int index = 0;

	while (n >= 1024 && index < NICE_MAX_INDEX) {
		n /= 1024;
		index++;
	}
	div = (uint64_t)1 << (10 * index);
	if (index == 0 || num % div == 0) {
		snprintf(buf, len, "%llu%s", (unsigned long long)n, units[index]);
		return;
	}
	for (int prec = 2; prec >= 0; prec--) {
		double val = (double)num / (double)div;

		if (snprintf(buf, len, "%.*f%s", prec, val, units[index]) <= 5)
			break;
	}
}

void nicebytes(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "B", "K", "M", "G", "T", "P", "E" };

	nice_format(n, buf, len, units);
}

void nicenum(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "", "K", "M", "G", "T", "P", "E" };

	nice_format(n, buf, len, units);
}
