/* Unit tests for util/names: messages as OpenZFS libzfs prints them. */
#include "util/err.h"
#include "util/names.h"
#include "util/tap.h"

static const char *kind_str(enum name_kind k)
{
	static const char *const s[] = { "pool", "dataset", "snapshot", "bookmark" };
	return s[k];
}

static void valid(const char *name, enum name_kind k)
{
	int rc = name_check(name, k);

	if (!is_int(rc, 0, "%s '%s' is valid", kind_str(k), name))
		diag("message: %s", terr_msg());
}

static void invalid(const char *name, enum name_kind k, const char *msg)
{
	terr_clear();
	is_int(name_check(name, k), -EINVAL, "%s '%s' is invalid", kind_str(k), name);
	is_str(terr_msg(), msg, "%s '%s' message", kind_str(k), name);
}

/* A string of n copies of c (n < 600). */
static const char *rep(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static void test_pool(void)
{
	char buf[600];

	valid("tank", NAME_POOL);
	valid("a", NAME_POOL);
	valid("Tank-1_2.3:4 5", NAME_POOL);
	valid("mirro", NAME_POOL);
	valid("logs", NAME_POOL);
	valid("c0", NAME_POOL);
	valid(rep(buf, 'a', 239), NAME_POOL);
	invalid(rep(buf, 'a', 240), NAME_POOL, "name is too long");
	invalid("", NAME_POOL, "name must begin with a letter");
	invalid("1tank", NAME_POOL, "name must begin with a letter");
	invalid("-tank", NAME_POOL, "name must begin with a letter");
	invalid("_tank", NAME_POOL, "name must begin with a letter");
	invalid("tank/a", NAME_POOL, "invalid character '/' in pool name");
	invalid("tank@a", NAME_POOL, "invalid character '@' in pool name");
	invalid("tank#a", NAME_POOL, "invalid character '#' in pool name");
	invalid("ta%nk", NAME_POOL, "invalid character '%' in pool name");
	invalid("t\xc3\xa9", NAME_POOL, "invalid character '\xc3' in pool name");
	invalid("1a/b", NAME_POOL, "invalid character '/' in pool name");
	invalid("mirror", NAME_POOL, "name is reserved");
	invalid("mirror2", NAME_POOL, "name is reserved");
	invalid("raidz", NAME_POOL, "name is reserved");
	invalid("raidz1", NAME_POOL, "name is reserved");
	invalid("draid", NAME_POOL, "name is reserved");
	invalid("draidx", NAME_POOL, "name is reserved");
	invalid("spare", NAME_POOL, "name is reserved");
	invalid("spares", NAME_POOL, "name is reserved");
	invalid("log", NAME_POOL, "name is reserved");
}

static void test_dataset(void)
{
	char buf[600];

	valid("tank", NAME_DATASET);
	valid("tank/a", NAME_DATASET);
	valid("tank/a/b-c_d.e:f g", NAME_DATASET);
	valid("1tank/x", NAME_DATASET);
	valid("tank/...", NAME_DATASET);
	valid("tank/.a", NAME_DATASET);
	valid(rep(buf, 'a', 255), NAME_DATASET);
	invalid(rep(buf, 'a', 256), NAME_DATASET, "name is too long");
	invalid("", NAME_DATASET, "empty component or misplaced '@' or '#' delimiter in name");
	invalid("/tank", NAME_DATASET, "leading slash in name");
	invalid("tank/", NAME_DATASET, "trailing slash in name");
	invalid("tank//a", NAME_DATASET, "empty component or misplaced '@' or '#' delimiter in name");
	invalid("tank/a*", NAME_DATASET, "invalid character '*' in name");
	invalid("tank/a\tb", NAME_DATASET, "invalid character '\t' in name");
	invalid("tank/a%b", NAME_DATASET, "invalid character % in name");
	invalid("tank/.", NAME_DATASET, "self reference, '.' is found in name");
	invalid("tank/./a", NAME_DATASET, "self reference, '.' is found in name");
	invalid("tank/..", NAME_DATASET, "parent reference, '..' is found in name");
	invalid("./a", NAME_DATASET, "self reference, '.' is found in name");
	invalid("tank@snap", NAME_DATASET, "snapshot delimiter '@' is not expected here");
	invalid("tank#mark", NAME_DATASET, "bookmark delimiter '#' is not expected here");
	invalid("/tank@x", NAME_DATASET, "snapshot delimiter '@' is not expected here");
}

static void test_nesting(void)
{
	char buf[NAME_MAXLEN];
	size_t n = 0;

	buf[n++] = 't';
	for (int i = 0; i < NAME_MAX_NESTING; i++) {
		buf[n++] = '/';
		buf[n++] = 'a';
	}
	buf[n] = '\0';
	valid(buf, NAME_DATASET);
	buf[n++] = '/';
	buf[n++] = 'a';
	buf[n] = '\0';
	invalid(buf, NAME_DATASET, "maximum name nesting depth exceeded");
	buf[n++] = '@';
	buf[n++] = 's';
	buf[n] = '\0';
	invalid(buf, NAME_SNAPSHOT, "maximum name nesting depth exceeded");
}

static void test_snapshot(void)
{
	valid("tank@s", NAME_SNAPSHOT);
	valid("tank/a/b@2024-01-01 12:00", NAME_SNAPSHOT);
	valid("tank@...", NAME_SNAPSHOT);
	valid("tank/a/.@s", NAME_SNAPSHOT); /* OpenZFS only checks '.' before '/' or the end */
	invalid("tank", NAME_SNAPSHOT, "missing '@' delimiter in snapshot name");
	invalid("tank/a", NAME_SNAPSHOT, "missing '@' delimiter in snapshot name");
	invalid("tank@", NAME_SNAPSHOT, "empty component or misplaced '@' or '#' delimiter in name");
	invalid("@snap", NAME_SNAPSHOT, "empty component or misplaced '@' or '#' delimiter in name");
	invalid("tank/@snap", NAME_SNAPSHOT, "empty component or misplaced '@' or '#' delimiter in name");
	invalid("tank@a@b", NAME_SNAPSHOT, "multiple '@' and/or '#' delimiters in name");
	invalid("tank@@b", NAME_SNAPSHOT, "multiple '@' and/or '#' delimiters in name");
	invalid("tank@a/b", NAME_SNAPSHOT, "trailing slash in name");
	invalid("tank@a/", NAME_SNAPSHOT, "trailing slash in name");
	invalid("tank@a#b", NAME_SNAPSHOT, "bookmark delimiter '#' is not expected here");
	invalid("tank@a!", NAME_SNAPSHOT, "invalid character '!' in name");
	invalid("tank@.", NAME_SNAPSHOT, "self reference, '.' is found in name");
	invalid("tank@..", NAME_SNAPSHOT, "parent reference, '..' is found in name");
	invalid("tank@a%", NAME_SNAPSHOT, "invalid character % in name");
	invalid("/tank@a", NAME_SNAPSHOT, "leading slash in name");
}

static void test_bookmark(void)
{
	valid("tank#b", NAME_BOOKMARK);
	valid("tank/a#b c", NAME_BOOKMARK);
	invalid("tank", NAME_BOOKMARK, "missing '#' delimiter in bookmark name");
	invalid("tank@s", NAME_BOOKMARK, "snapshot delimiter '@' is not expected here");
	invalid("tank#s@x", NAME_BOOKMARK, "snapshot delimiter '@' is not expected here");
	invalid("tank#", NAME_BOOKMARK, "empty component or misplaced '@' or '#' delimiter in name");
	invalid("tank#a#b", NAME_BOOKMARK, "multiple '@' and/or '#' delimiters in name");
	invalid("tank#a/b", NAME_BOOKMARK, "trailing slash in name");
	invalid("tank#a?", NAME_BOOKMARK, "invalid character '?' in name");
}

static void test_kind(void)
{
	is_int(name_check("tank", (enum name_kind)42), -EINVAL, "unknown kind rejected");
	is_str(terr_msg(), "unknown name kind 42", "unknown kind message");
}

static void test_split(void)
{
	char ds[16], snap[16], sep = 'x';

	is_int(name_split("pool/a/b@snap", ds, sizeof(ds), snap, sizeof(snap), &sep), 0, "split snapshot");
	is_str(ds, "pool/a/b", "snapshot dataset part");
	is_str(snap, "snap", "snapshot part");
	is_int(sep, '@', "snapshot separator");

	is_int(name_split("pool/a#book", ds, sizeof(ds), snap, sizeof(snap), &sep), 0, "split bookmark");
	is_str(ds, "pool/a", "bookmark dataset part");
	is_str(snap, "book", "bookmark part");
	is_int(sep, '#', "bookmark separator");

	is_int(name_split("pool/a", ds, sizeof(ds), snap, sizeof(snap), &sep), 0, "split plain dataset");
	is_str(ds, "pool/a", "plain dataset part");
	is_str(snap, "", "no snapshot part");
	is_int(sep, 0, "no separator");

	is_int(name_split("p@a@b", ds, sizeof(ds), snap, sizeof(snap), &sep), 0, "split at the first delimiter");
	is_str(ds, "p", "first part");
	is_str(snap, "a@b", "rest kept verbatim");

	is_int(name_split("@x", ds, sizeof(ds), NULL, 0, NULL), 0, "NULL outputs are skipped");
	is_str(ds, "", "empty dataset part");
	is_int(name_split("pool@s", NULL, 0, snap, sizeof(snap), &sep), 0, "only the snapshot part");
	is_str(snap, "s", "snapshot part alone");

	is_int(name_split("0123456789abcdef@s", ds, sizeof(ds), snap, sizeof(snap), &sep), -EINVAL,
	       "dataset part too long for its buffer");
	is_str(terr_msg(), "name is too long", "too long message");
	is_str(ds, "", "failed output is an empty string");
	is_int(name_split("0123456789abcde@s", ds, sizeof(ds), snap, sizeof(snap), &sep), 0,
	       "dataset part exactly fits");
	is_int(name_split("p@0123456789abcdef", ds, sizeof(ds), snap, sizeof(snap), &sep), -EINVAL,
	       "snapshot part too long for its buffer");
	is_int(name_split("p@s", ds, 0, snap, sizeof(snap), &sep), -EINVAL, "zero-length buffer");
}

static void test_pool_of(void)
{
	char pool[8];

	is_int(name_pool("tank/a/b", pool, sizeof(pool)), 0, "pool of dataset");
	is_str(pool, "tank", "pool of dataset value");
	is_int(name_pool("tank@s", pool, sizeof(pool)), 0, "pool of snapshot");
	is_str(pool, "tank", "pool of snapshot value");
	is_int(name_pool("tank#b", pool, sizeof(pool)), 0, "pool of bookmark");
	is_str(pool, "tank", "pool of bookmark value");
	is_int(name_pool("tank", pool, sizeof(pool)), 0, "pool of pool");
	is_str(pool, "tank", "pool of pool value");
	is_int(name_pool("1234567", pool, sizeof(pool)), 0, "exact fit");
	is_int(name_pool("12345678/a", pool, sizeof(pool)), -EINVAL, "too long");
	is_str(terr_msg(), "name is too long", "too long message");
}

int main(void)
{
	test_pool();
	test_dataset();
	test_nesting();
	test_snapshot();
	test_bookmark();
	test_kind();
	test_split();
	test_pool_of();
	return done_testing();
}
