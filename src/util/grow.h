/* util/grow.h — growable arrays: make room for one more element. */
#ifndef TARN_UTIL_GROW_H
#define TARN_UTIL_GROW_H

#include <stdlib.h>

#include "util/err.h"

/* GROW(arr, cap, n, first): ensure the array `arr` (capacity `cap` elements, `n` in use) has
 * room for element n, doubling the capacity (starting at `first`). Evaluates to 0, or -ENOMEM
 * with a message (the array is then unchanged). arr and cap are lvalues, typed as declared. */
#define GROW(arr, cap, n, first)                                                                   \
	({                                                                                         \
		int grow_rc_ = 0;                                                                  \
		if ((n) >= (cap)) {                                                                \
			size_t grow_nc_ = (cap) ? (cap)*2 : (first);                               \
			__typeof__(arr) grow_na_ = realloc((arr), grow_nc_ * sizeof(*(arr)));       \
			if (!grow_na_)                                                             \
				grow_rc_ = terr(ENOMEM, "out of memory");                          \
			else                                                                       \
				(arr) = grow_na_, (cap) = grow_nc_;                                \
		}                                                                                  \
		grow_rc_;                                                                          \
	})

#endif
