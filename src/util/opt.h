/* util/opt.h — getopt/getopt_long with per-thread state, so that commands run by several
 * daemon threads at once can each parse their own argv. Semantics follow glibc's default
 * (GNU) mode closely enough for tarn's commands: options may follow operands (argv is permuted
 * once, stably, so options and their arguments come first, then "--" is dropped, then the
 * operands), clustered short options ("-rHp"), "-oVALUE" and "-o VALUE", "--long", "--long=V",
 * "--long V", unambiguous prefixes of long names. Errors print glibc's messages to
 * opt_errstream (NULL: stderr) and return '?'. Reset by setting opt_ind to 0 or 1 before the
 * first call for a new argv. */
#ifndef TARN_UTIL_OPT_H
#define TARN_UTIL_OPT_H

#include <getopt.h>
#include <stdio.h>

extern __thread int opt_ind;     /* next argv index; operands start here after -1 */
extern __thread char *opt_arg;   /* argument of the option just returned */
extern __thread int opt_opt;     /* the offending option character after '?' */
extern __thread FILE *opt_errstream;

/* As getopt_long(3); longopts may be NULL. Flags in longopts (flag != NULL) are honoured. */
int opt_getopt_long(int argc, char **argv, const char *shortopts, const struct option *longopts, int *longindex);

#endif
