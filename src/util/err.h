/* util/err.h — tarn's one error idiom.
 *
 * Every fallible function returns an int: 0 (or a non-negative count) on success, a negative
 * errno value on failure (-EIO, -ENOSPC, -EINVAL, ...). Before returning an error, the function
 * that detected it records a one-line human-readable message with terr(); callers that add
 * context use terr_prefix(). The message lives in thread-local storage, so concurrent threads
 * (the daemon) do not clobber each other. The CLI prints terr_msg() and maps the code to an exit
 * status. Storage layers never print.
 */
#ifndef TARN_UTIL_ERR_H
#define TARN_UTIL_ERR_H

#include <errno.h>
#include <stddef.h>

#define TERR_MSG_MAX 512

/* Record message (printf-style) for error code `code` (a positive errno); returns -code. */
int terr(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the current message with "<prefix>: "; returns `ret` unchanged (for `return terr_prefix(..)`). */
int terr_prefix(int ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last recorded message of this thread ("" if none). Valid until the next terr*() call. */
const char *terr_msg(void);

/* The last recorded code of this thread (positive errno, 0 if none). */
int terr_code(void);

/* Forget the recorded error. */
void terr_clear(void);

/* Propagate: `TRY(expr)` returns from the calling function with expr's value if negative. */
#define TRY(expr)                                                                                  \
	do {                                                                                       \
		int try_rc_ = (expr);                                                              \
		if (try_rc_ < 0)                                                                   \
			return try_rc_;                                                            \
	} while (0)

#endif
