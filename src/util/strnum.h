/* util/strnum.h — parsing numbers and booleans typed by users, with zfs(8)'s rules and
 * messages. All functions write *out only on success; on failure they return a negative errno
 * and record the message with terr(). */
#ifndef TARN_UTIL_STRNUM_H
#define TARN_UTIL_STRNUM_H

#include <stdint.h>

/* Parse a size the way OpenZFS zfs_nicestrtonum() does (base 1024):
 *   - must start with a digit or '.'; "12", "1.5G", ".5K", "5." are accepted;
 *   - optional suffix B K M G T P E Z (case-insensitive), where K..Z may be followed by "B" or
 *     "iB" (also case-insensitive): "16K" = "16k" = "16KB" = "16KiB"; "B" alone means bytes,
 *     "BB" and "BiB" are rejected; no whitespace anywhere;
 *   - a fraction is computed in double precision and truncated ("1.1K" = 1126); as in
 *     OpenZFS this path uses strtod(), so an exponent is tolerated ("1.5e3K"); unlike
 *     OpenZFS the decimal point is always '.', whatever the LC_NUMERIC locale.
 * Fails with -EINVAL "bad numeric value '<s>'" (not a number) or "invalid numeric suffix
 * '<suffix>'", or -ERANGE "numeric value is too large" (does not fit in 64 bits: "16E",
 * "18446744073709551616", and, as in OpenZFS, any integer with a "Z" suffix, even "0Z"). */
int parse_size(const char *s, uint64_t *out);

/* Parse a plain unsigned decimal: one or more ASCII digits and nothing else (no sign, no
 * whitespace, no suffix). -EINVAL "bad numeric value '<s>'", -ERANGE "numeric value is too
 * large". */
int parse_u64(const char *s, uint64_t *out);

/* Parse "on" (1) or "off" (0), case-sensitive as zfs properties are. Otherwise -EINVAL
 * "bad boolean value '<s>': must be 'on' or 'off'". */
int parse_bool_onoff(const char *s, int *out);

#endif
