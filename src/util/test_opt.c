/* Unit tests for util/opt: per-thread getopt_long with GNU permutation. */
#include "util/opt.h"
#include "util/tap.h"

#include <pthread.h>
#include <string.h>

#define ARGV(...) char *argv[] = { __VA_ARGS__, NULL }; int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1

/* Parse and render "c[=arg] ... | operands" for comparison. */
static void run(int argc, char **argv, const char *so, const struct option *lo, char *out, size_t len)
{
	FILE *null = fopen("/dev/null", "w");
	opt_errstream = null;
	opt_ind = 1;
	int c;
	size_t pos = 0;
	out[0] = 0;
	while ((c = opt_getopt_long(argc, argv, so, lo, NULL)) != -1)
		pos += (size_t)snprintf(out + pos, len - pos, "%c%s%s ", c, opt_arg ? "=" : "", opt_arg ? opt_arg : "");
	pos += (size_t)snprintf(out + pos, len - pos, "|");
	for (int i = opt_ind; i < argc; i++)
		pos += (size_t)snprintf(out + pos, len - pos, " %s", argv[i]);
	opt_errstream = NULL;
	fclose(null);
}

static const struct option lo[] = { { "json", no_argument, 0, 'j' },
				    { "json-int", no_argument, 0, 'J' },
				    { "offset", required_argument, 0, 'o' },
				    { 0, 0, 0, 0 } };

static void test_short(void)
{
	char buf[256];
	{ ARGV("zfs", "-rH", "-o", "name,used", "data"); run(argc, argv, "rHo:", NULL, buf, sizeof(buf));
	  is_str(buf, "r H o=name,used | data", "cluster and separate argument"); }
	{ ARGV("zfs", "-oname", "data", "-r"); run(argc, argv, "rHo:", NULL, buf, sizeof(buf));
	  is_str(buf, "o=name r | data", "inline argument, option after operand"); }
	{ ARGV("zfs", "data/a", "-r", "data/b", "-o", "x"); run(argc, argv, "ro:", NULL, buf, sizeof(buf));
	  is_str(buf, "r o=x | data/a data/b", "operands keep their order"); }
	{ ARGV("zfs", "-r", "--", "-x", "y"); run(argc, argv, "r", NULL, buf, sizeof(buf));
	  is_str(buf, "r | -x y", "-- ends options"); }
	{ ARGV("zfs", "-q", "a"); run(argc, argv, "r", NULL, buf, sizeof(buf));
	  is_str(buf, "? | a", "unknown option"); is_int(opt_opt, 'q', "opt_opt names it"); }
	{ ARGV("zfs", "a", "-o"); run(argc, argv, "o:", NULL, buf, sizeof(buf));
	  is_str(buf, "? | a", "missing argument"); }
	{ ARGV("zfs", "-", "a"); run(argc, argv, "r", NULL, buf, sizeof(buf));
	  is_str(buf, "| - a", "lone dash is an operand"); }
	{ ARGV("zfs"); run(argc, argv, "r", NULL, buf, sizeof(buf)); is_str(buf, "|", "no arguments"); }
}

static void test_long(void)
{
	char buf[256];
	{ ARGV("zfs", "list", "--json", "-H"); run(argc, argv, "Hj", lo, buf, sizeof(buf));
	  is_str(buf, "j H | list", "long flag after operand"); }
	{ ARGV("zfs", "--json-int"); run(argc, argv, "", lo, buf, sizeof(buf)); is_str(buf, "J |", "exact long beats prefix"); }
	{ ARGV("zfs", "--js"); run(argc, argv, "", lo, buf, sizeof(buf)); is_str(buf, "? |", "ambiguous prefix"); }
	{ ARGV("v", "--off", "4K", "x"); run(argc, argv, "", lo, buf, sizeof(buf)); is_str(buf, "o=4K | x", "prefix, separate value"); }
	{ ARGV("v", "x", "--offset=8K"); run(argc, argv, "", lo, buf, sizeof(buf)); is_str(buf, "o=8K | x", "--name=value"); }
	{ ARGV("v", "--json=1"); run(argc, argv, "", lo, buf, sizeof(buf)); is_str(buf, "? |", "value for a flag"); }
	{ ARGV("v", "--offset"); run(argc, argv, "", lo, buf, sizeof(buf)); is_str(buf, "? |", "missing long value"); }
	{ ARGV("v", "--nope"); run(argc, argv, "", lo, buf, sizeof(buf)); is_str(buf, "? |", "unknown long"); }
}

static void *thread_parse(void *arg)
{
	char buf[256];
	int *ok = arg;
	for (int i = 0; i < 2000; i++) {
		ARGV("zfs", "data", "-rH", "-o", "name", "x");
		run(argc, argv, "rHo:", NULL, buf, sizeof(buf));
		if (strcmp(buf, "r H o=name | data x"))
			*ok = 0;
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t t[4];
	int ok[4] = { 1, 1, 1, 1 };
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, thread_parse, &ok[i]);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	is_int(ok[0] && ok[1] && ok[2] && ok[3], 1, "four threads parse at once without interference");
}

int main(void)
{
	test_short();
	test_long();
	test_threads();
	return done_testing();
}
