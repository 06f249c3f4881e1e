/* util/tap.h — header-only minimal TAP (Test Anything Protocol) producer for unit tests.
 *
 * Each unit test is one translation unit (src/<layer>/test_*.c) linked against libtarn.a; the
 * counters below are static to that unit. Usage:
 *
 *	int main(void)
 *	{
 *		ok(1 + 1 == 2, "addition");
 *		is_u64(parse(), 42, "parse %s", "x");
 *		return done_testing();
 *	}
 *
 * Every assertion prints "ok N - description" or "not ok N - description" on stdout, followed
 * on failure by "#" diagnostic lines (location; for is_* also "# got: .." and "# want: ..").
 * All of them evaluate to 1 on pass and 0 on failure, so a test can skip a dependent block.
 * done_testing() prints the "1..N" plan last and returns the process exit status: 0 if every
 * assertion passed (and at least one ran), 1 otherwise. Everything goes to stdout, flushed
 * after each assertion so the log is complete up to a crash. Descriptions are printf formats
 * and must not be empty.
 */
#ifndef TARN_UTIL_TAP_H
#define TARN_UTIL_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int tap_run_;
static int tap_failed_;

#define TAP_PRINTF_(f, a) __attribute__((format(printf, f, a)))

static inline void tap_vdesc_(const char *fmt, va_list ap)
{
	if (fmt && fmt[0]) {
		fputs(" - ", stdout);
		vprintf(fmt, ap);
	}
	fputc('\n', stdout);
}

/* Print the "ok"/"not ok" line; returns pass (0/1). */
static inline int tap_vresult_(int pass, const char *file, int line, const char *fmt, va_list ap)
{
	tap_run_++;
	if (!pass)
		tap_failed_++;
	printf("%sok %d", pass ? "" : "not ", tap_run_);
	tap_vdesc_(fmt, ap);
	if (!pass)
		printf("#   Failed test at %s line %d.\n", file, line);
	fflush(stdout);
	return pass;
}

static inline TAP_PRINTF_(4, 5) int tap_ok_(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pass = tap_vresult_(pass, file, line, fmt, ap);
	va_end(ap);
	return pass;
}

static inline TAP_PRINTF_(5, 6) int tap_is_u64_(uint64_t got, uint64_t want, const char *file, int line,
						const char *fmt, ...)
{
	va_list ap;
	int pass;
	va_start(ap, fmt);
	pass = tap_vresult_(got == want, file, line, fmt, ap);
	va_end(ap);
	if (!pass) {
		printf("#          got: %" PRIu64 " (0x%" PRIx64 ")\n", got, got);
		printf("#         want: %" PRIu64 " (0x%" PRIx64 ")\n", want, want);
		fflush(stdout);
	}
	return pass;
}

static inline TAP_PRINTF_(5, 6) int tap_is_int_(long long got, long long want, const char *file, int line,
						const char *fmt, ...)
{
	va_list ap;
	int pass;
	va_start(ap, fmt);
	pass = tap_vresult_(got == want, file, line, fmt, ap);
	va_end(ap);
	if (!pass) {
		printf("#          got: %lld\n#         want: %lld\n", got, want);
		fflush(stdout);
	}
	return pass;
}

/* NULL compares equal only to NULL and prints as (null). */
static inline TAP_PRINTF_(5, 6) int tap_is_str_(const char *got, const char *want, const char *file, int line,
						const char *fmt, ...)
{
	va_list ap;
	int pass;
	if (got == NULL || want == NULL)
		pass = got == want;
	else
		pass = strcmp(got, want) == 0;
	va_start(ap, fmt);
	pass = tap_vresult_(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass) {
		printf("#          got: %s%s%s\n", got ? "'" : "", got ? got : "(null)", got ? "'" : "");
		printf("#         want: %s%s%s\n", want ? "'" : "", want ? want : "(null)", want ? "'" : "");
		fflush(stdout);
	}
	return pass;
}

/* Print a "# ..." diagnostic line (a newline is appended). */
static inline TAP_PRINTF_(1, 2) void diag(const char *fmt, ...)
{
	va_list ap;
	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* Print the plan; return the exit status (0 = all passed and at least one test ran). */
static inline int done_testing(void)
{
	printf("1..%d\n", tap_run_);
	if (tap_failed_)
		printf("# Looks like you failed %d test%s of %d.\n", tap_failed_, tap_failed_ == 1 ? "" : "s",
		       tap_run_);
	else if (tap_run_ == 0)
		printf("# No tests run!\n");
	fflush(stdout);
	return (tap_failed_ || tap_run_ == 0) ? 1 : 0;
}

#define ok(cond, ...) tap_ok_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_u64(got, want, ...) tap_is_u64_((uint64_t)(got), (uint64_t)(want), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) tap_is_int_((long long)(got), (long long)(want), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) tap_is_str_((got), (want), __FILE__, __LINE__, __VA_ARGS__)

#endif
