/* Unit tests for util/strnum: parse_size follows OpenZFS zfs_nicestrtonum(). */
#include "util/err.h"
#include "util/strnum.h"
#include "util/tap.h"

#include <locale.h>

#define KB 1024ULL
#define MB (KB * KB)
#define GB (MB * KB)
#define TB (GB * KB)
#define PB (TB * KB)
#define EB (PB * KB)

static void size_ok(const char *s, uint64_t want)
{
	uint64_t v = 12345;
	int rc = parse_size(s, &v);

	if (is_int(rc, 0, "parse_size('%s') succeeds", s))
		is_u64(v, want, "parse_size('%s') value", s);
	else
		diag("message: %s", terr_msg());
}

static void size_err(const char *s, int code, const char *msg)
{
	uint64_t v = 12345;

	terr_clear();
	is_int(parse_size(s, &v), -code, "parse_size('%s') fails", s);
	is_str(terr_msg(), msg, "parse_size('%s') message", s);
	is_u64(v, 12345, "parse_size('%s') leaves *out alone", s);
}

static void test_size_ok(void)
{
	size_ok("0", 0);
	size_ok("1", 1);
	size_ok("512", 512);
	size_ok("16K", 16 * KB);
	size_ok("16k", 16 * KB);
	size_ok("16KB", 16 * KB);
	size_ok("16kb", 16 * KB);
	size_ok("16KiB", 16 * KB);
	size_ok("16kib", 16 * KB);
	size_ok("300MB", 300 * MB);
	size_ok("1G", GB);
	size_ok("2T", 2 * TB);
	size_ok("3P", 3 * PB);
	size_ok("15E", 15 * EB);
	size_ok("100B", 100);
	size_ok("100b", 100);
	size_ok("1.5G", GB + GB / 2);
	size_ok("1.5", 1);
	size_ok("1.1K", 1126);
	size_ok(".5K", 512);
	size_ok("5.", 5);
	size_ok("0.0Z", 0);
	size_ok("1.5e3K", 1500 * KB);
	size_ok("0.5MiB", MB / 2);
	size_ok("18446744073709551615", UINT64_MAX);
	size_ok("00017", 17);
	size_ok("15.99E", 18435214858663483392ULL);
}

static void test_size_err(void)
{
	size_err("", EINVAL, "bad numeric value ''");
	size_err("abc", EINVAL, "bad numeric value 'abc'");
	size_err("-1", EINVAL, "bad numeric value '-1'");
	size_err("+1", EINVAL, "bad numeric value '+1'");
	size_err(" 1", EINVAL, "bad numeric value ' 1'");
	size_err("K", EINVAL, "bad numeric value 'K'");
	size_err("1 K", EINVAL, "invalid numeric suffix ' K'");
	size_err("1X", EINVAL, "invalid numeric suffix 'X'");
	size_err("1KBB", EINVAL, "invalid numeric suffix 'KBB'");
	size_err("1BB", EINVAL, "invalid numeric suffix 'BB'");
	size_err("1BiB", EINVAL, "invalid numeric suffix 'BiB'");
	size_err("1Ki", EINVAL, "invalid numeric suffix 'Ki'");
	size_err("1KiBx", EINVAL, "invalid numeric suffix 'KiBx'");
	size_err("0x10", EINVAL, "invalid numeric suffix 'x10'");
	size_err("1e3", EINVAL, "invalid numeric suffix 'e3'");
	size_err(".", EINVAL, "invalid numeric suffix '.'");
	size_err("1.5.5", EINVAL, "invalid numeric suffix '.5'");
	size_err("1.5X", EINVAL, "invalid numeric suffix 'X'");
	size_err("16E", ERANGE, "numeric value is too large");
	size_err("16.0E", ERANGE, "numeric value is too large");
	size_err("1Z", ERANGE, "numeric value is too large");
	size_err("0Z", ERANGE, "numeric value is too large");
	size_err("18446744073709551616", ERANGE, "numeric value is too large");
	size_err("99999999999999999999999.5", ERANGE, "numeric value is too large");
	size_err("17179869184G", ERANGE, "numeric value is too large");
	size_err("1.5e400", ERANGE, "numeric value is too large");
}

static void test_u64(void)
{
	uint64_t v = 7;

	is_int(parse_u64("0", &v), 0, "parse_u64 0");
	is_u64(v, 0, "parse_u64 0 value");
	is_int(parse_u64("18446744073709551615", &v), 0, "parse_u64 max");
	is_u64(v, UINT64_MAX, "parse_u64 max value");
	is_int(parse_u64("0042", &v), 0, "parse_u64 leading zeros");
	is_u64(v, 42, "parse_u64 leading zeros value");
	v = 7;
	is_int(parse_u64("18446744073709551616", &v), -ERANGE, "parse_u64 max+1");
	is_str(terr_msg(), "numeric value is too large", "parse_u64 overflow message");
	is_int(parse_u64("99999999999999999999", &v), -ERANGE, "parse_u64 overflow by multiply");
	is_int(parse_u64("", &v), -EINVAL, "parse_u64 empty");
	is_str(terr_msg(), "bad numeric value ''", "parse_u64 empty message");
	is_int(parse_u64("12a", &v), -EINVAL, "parse_u64 trailing junk");
	is_str(terr_msg(), "bad numeric value '12a'", "parse_u64 junk message");
	is_int(parse_u64("-1", &v), -EINVAL, "parse_u64 sign");
	is_int(parse_u64("+1", &v), -EINVAL, "parse_u64 plus");
	is_int(parse_u64(" 1", &v), -EINVAL, "parse_u64 whitespace");
	is_int(parse_u64("1K", &v), -EINVAL, "parse_u64 suffix");
	is_int(parse_u64("1.0", &v), -EINVAL, "parse_u64 fraction");
	is_u64(v, 7, "parse_u64 leaves *out alone on failure");
}

static void test_bool(void)
{
	int b = 5;

	is_int(parse_bool_onoff("on", &b), 0, "on");
	is_int(b, 1, "on = 1");
	is_int(parse_bool_onoff("off", &b), 0, "off");
	is_int(b, 0, "off = 0");
	b = 5;
	is_int(parse_bool_onoff("ON", &b), -EINVAL, "ON rejected (case-sensitive)");
	is_str(terr_msg(), "bad boolean value 'ON': must be 'on' or 'off'", "bool message");
	is_int(parse_bool_onoff("", &b), -EINVAL, "empty rejected");
	is_int(parse_bool_onoff("yes", &b), -EINVAL, "yes rejected");
	is_int(parse_bool_onoff("1", &b), -EINVAL, "1 rejected");
	is_int(parse_bool_onoff("on ", &b), -EINVAL, "trailing space rejected");
	is_int(b, 5, "*out untouched on failure");
}

/* A comma-decimal locale must not change parsing (skipped if none is installed). */
static void test_locale(void)
{
	static const char *const locs[] = { "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "nl_NL.UTF-8" };
	uint64_t v = 0;

	for (size_t i = 0; i < sizeof(locs) / sizeof(locs[0]); i++) {
		if (setlocale(LC_NUMERIC, locs[i]) == NULL)
			continue;
		is_int(parse_size("1.5K", &v), 0, "1.5K under LC_NUMERIC=%s", locs[i]);
		is_u64(v, 1536, "1.5K value under %s", locs[i]);
		setlocale(LC_NUMERIC, "C");
		return;
	}
	diag("skip: no comma-decimal locale installed");
}

int main(void)
{
	test_locale();
	test_size_ok();
	test_size_err();
	test_u64();
	test_bool();
	return done_testing();
}
