/* util/strnum.c — user-facing number parsing (see strnum.h). */
#include "strnum.h"

#include "err.h"

#include <ctype.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Shift for suffix `suf` ("" = 0, "K"/"KB"/"KiB" = 10, ...), or -1 if it is not one. */
static int suffix_shift(const char *suf)
{
	static const char units[] = "BKMGTPEZ";
	const char *u;
	int c0;

	if (suf[0] == '\0')
		return 0;
	c0 = toupper((unsigned char)suf[0]);
	u = strchr(units, c0);
	if (u == NULL)
		return -1;
	if (suf[1] == '\0')
		return 10 * (int)(u - units);
	if (c0 == 'B')
		return -1; /* "BB", "BiB" */
	if (toupper((unsigned char)suf[1]) == 'B' && suf[2] == '\0')
		return 10 * (int)(u - units);
	if (toupper((unsigned char)suf[1]) == 'I' && toupper((unsigned char)suf[2]) == 'B' && suf[3] == '\0')
		return 10 * (int)(u - units);
	return -1;
}

/* strtod() in the C locale, so "1.5G" parses the same whatever LC_NUMERIC the CLI set. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

static double strtod_c(const char *s, char **end)
{
	pthread_once(&c_locale_once, c_locale_init);
	return c_locale ? strtod_l(s, end, c_locale) : strtod(s, end);
}

static int too_large(void) { return terr(ERANGE, "numeric value is too large"); }

/* "<digits>.<frac>[suffix]": computed in double, as OpenZFS does. */
static int parse_frac(const char *s, uint64_t *out)
{
	char *end;
	double v = strtod_c(s, &end);
	int shift = suffix_shift(end);

	if (shift < 0)
		return terr(EINVAL, "invalid numeric suffix '%s'", end);
	v = ldexp(v, shift);
	/* (double)UINT64_MAX rounds up to 2^64, hence >=. NaN cannot occur: s starts with a
	 * digit or '.', so strtod never sees "nan"/"inf". */
	if (!(v < (double)UINT64_MAX))
		return too_large();
	*out = (uint64_t)v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int shift;

	if (!is_digit(s[0]) && s[0] != '.')
		return terr(EINVAL, "bad numeric value '%s'", s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return too_large();
	if (*end == '.')
		return parse_frac(s, out);
	shift = suffix_shift(end);
	if (shift < 0)
		return terr(EINVAL, "invalid numeric suffix '%s'", end);
	if (shift >= 64 || (v << shift) >> shift != v)
		return too_large();
	*out = (uint64_t)v << shift;
	return 0;
}

int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p;

	if (s[0] == '\0')
		return terr(EINVAL, "bad numeric value '%s'", s);
	for (p = s; *p; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (!is_digit(*p))
			return terr(EINVAL, "bad numeric value '%s'", s);
		if (v > (UINT64_MAX - d) / 10)
			return too_large();
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int parse_bool_onoff(const char *s, int *out)
{
	if (strcmp(s, "on") == 0)
		*out = 1;
	else if (strcmp(s, "off") == 0)
		*out = 0;
	else
		return terr(EINVAL, "bad boolean value '%s': must be 'on' or 'off'", s);
	return 0;
}
