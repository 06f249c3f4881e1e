/* util/opt.c — per-thread getopt_long (see opt.h). */
#include "util/opt.h"

#include <stdlib.h>
#include <string.h>

__thread int opt_ind = 1;
__thread char *opt_arg;
__thread int opt_opt;
__thread FILE *opt_errstream;

static __thread char **last_argv;
static __thread char *nextchar; /* rest of a short-option cluster being parsed */
static __thread int nopts_end;  /* argv index where options (after permutation) end */

static FILE *errf(void) { return opt_errstream ? opt_errstream : stderr; }

static int is_option(const char *s) { return s[0] == '-' && s[1] != 0; }

/* How many argv elements the option element s takes (1, or 2 when its argument is the next
 * element). Unknown options take 1: the parse reports them later. */
static int option_span(const char *s, const char *shortopts, const struct option *lo)
{
	if (s[1] == '-') { /* long */
		const char *name = s + 2;
		size_t n = strcspn(name, "=");
		if (name[n] == '=' || !lo)
			return 1;
		const struct option *hit = NULL;
		int nhit = 0;
		for (const struct option *o = lo; o->name; o++)
			if (!strncmp(o->name, name, n)) {
				if (strlen(o->name) == n) {
					hit = o;
					nhit = 1;
					break;
				}
				hit = o;
				nhit++;
			}
		return nhit == 1 && hit->has_arg == required_argument ? 2 : 1;
	}
	for (const char *c = s + 1; *c; c++) {
		const char *p = *c == ':' ? NULL : strchr(shortopts, *c);
		if (p && p[1] == ':')
			return c[1] || p[2] == ':' ? 1 : 2; /* inline value, or optional: no next element */
	}
	return 1;
}

/* Stable partition: options (with separate arguments) first, then operands; "--" removed. */
static void permute(int argc, char **argv, const char *shortopts, const struct option *lo)
{
	char **ops = malloc(sizeof(char *) * (size_t)(argc + 1));
	int nops = 0, w = 1, i = 1, dashdash = 0;
	if (!ops) { /* no permutation: parse options up to the first operand */
		for (nopts_end = 1; nopts_end < argc && is_option(argv[nopts_end]); nopts_end++)
			;
		return;
	}
	while (i < argc) {
		char *s = argv[i];
		if (dashdash) {
			ops[nops++] = s;
			i++;
		} else if (!strcmp(s, "--")) {
			dashdash = 1;
			i++;
		} else if (is_option(s)) {
			int span = option_span(s, shortopts, lo);
			argv[w++] = s;
			if (span == 2 && i + 1 < argc)
				argv[w++] = argv[++i];
			i++;
		} else {
			ops[nops++] = s;
			i++;
		}
	}
	nopts_end = w;
	for (int k = 0; k < nops; k++)
		argv[w++] = ops[k];
	/* getopt stops after consuming "--": keep it between the options and the operands */
	if (dashdash) {
		memmove(argv + nopts_end + 1, argv + nopts_end, sizeof(char *) * (size_t)nops);
		argv[nopts_end++] = (char *)"--";
	}
	free(ops);
}

static int long_opt(int argc, char **argv, const struct option *lo, int *longindex)
{
	char *name = argv[opt_ind] + 2;
	size_t n = strcspn(name, "=");
	const struct option *hit = NULL;
	int nhit = 0, exact = 0;
	for (const struct option *o = lo; lo && o->name; o++)
		if (!strncmp(o->name, name, n)) {
			if (strlen(o->name) == n) {
				hit = o;
				exact = 1;
				break;
			}
			if (!hit)
				hit = o;
			nhit++;
		}
	char *prog = argv[0];
	opt_ind++;
	if (!hit || (!exact && nhit > 1)) {
		fprintf(errf(), hit ? "%s: option '--%.*s' is ambiguous\n" : "%s: unrecognized option '--%.*s'\n",
			prog, (int)n, name);
		opt_opt = 0;
		return '?';
	}
	if (longindex)
		*longindex = (int)(hit - lo);
	opt_arg = NULL;
	if (name[n] == '=') {
		if (hit->has_arg == no_argument) {
			fprintf(errf(), "%s: option '--%s' doesn't allow an argument\n", prog, hit->name);
			opt_opt = hit->val;
			return '?';
		}
		opt_arg = name + n + 1;
	} else if (hit->has_arg == required_argument) {
		if (opt_ind >= nopts_end || opt_ind >= argc) {
			fprintf(errf(), "%s: option '--%s' requires an argument\n", prog, hit->name);
			opt_opt = hit->val;
			return '?';
		}
		opt_arg = argv[opt_ind++];
	}
	if (hit->flag) {
		*hit->flag = hit->val;
		return 0;
	}
	return hit->val;
}

int opt_getopt_long(int argc, char **argv, const char *shortopts, const struct option *longopts, int *longindex)
{
	if (opt_ind <= 0 || argv != last_argv || (opt_ind == 1 && !nextchar)) {
		last_argv = argv;
		nextchar = NULL;
		opt_ind = 1;
		permute(argc, argv, shortopts, longopts);
	}
	opt_arg = NULL;
	if (!nextchar || !*nextchar) {
		nextchar = NULL;
		if (opt_ind >= nopts_end || opt_ind >= argc)
			return -1;
		if (!strcmp(argv[opt_ind], "--")) {
			opt_ind++;
			return -1;
		}
		if (argv[opt_ind][1] == '-')
			return long_opt(argc, argv, longopts, longindex);
		nextchar = argv[opt_ind] + 1;
	}
	char c = *nextchar++;
	const char *p = c == ':' ? NULL : strchr(shortopts, c);
	if (!*nextchar) {
		opt_ind++;
	}
	if (!p) {
		fprintf(errf(), "%s: invalid option -- '%c'\n", argv[0], c);
		opt_opt = (unsigned char)c;
		if (!*nextchar)
			nextchar = NULL;
		return '?';
	}
	if (p[1] == ':') {
		if (*nextchar) { /* -oVALUE */
			opt_arg = nextchar;
			opt_ind++;
		} else if (p[2] != ':') {
			if (opt_ind >= nopts_end || opt_ind >= argc) {
				fprintf(errf(), "%s: option requires an argument -- '%c'\n", argv[0], c);
				opt_opt = (unsigned char)c;
				nextchar = NULL;
				return '?';
			}
			opt_arg = argv[opt_ind++];
		}
		nextchar = NULL;
	}
	return c;
}
