/* util/guid.h — random identifiers for pools, vdevs and datasets. */
#ifndef TARN_UTIL_GUID_H
#define TARN_UTIL_GUID_H

#include <stdint.h>

/* A uniformly random, nonzero 64-bit id from getrandom(2) (the kernel CSPRNG; blocks only
 * until it is seeded early at boot). Cannot fail: retries on EINTR and short reads; if
 * getrandom is unavailable (ENOSYS, old kernels or seccomp) it reads /dev/urandom, and as a
 * last resort mixes the clock, pid and an address (unique, not unpredictable). */
uint64_t guid_new(void);

#endif
