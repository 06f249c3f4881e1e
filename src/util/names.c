/* util/names.c — name validation and splitting (see names.h).
 *
 * The rules follow OpenZFS: zfs_validate_name() (libzfs, with modifying = true as for create,
 * snapshot and rename) over entity_namecheck(), then dataset_nestcheck(); zpool_name_valid()
 * (with isopen = false, as for create/import) over pool_namecheck().
 */
#include "names.h"

#include "err.h"

#include <string.h>

/* Pool names are limited so that "<pool>/$ORIGIN@$ORIGIN" still fits. */
#define POOL_MAXLEN (NAME_MAXLEN - 2 - 2 * (sizeof("$ORIGIN") - 1))

static int valid_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_' || c == '.' || c == ':' || c == ' ';
}

static int is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int invalid(const char *msg) { return terr(EINVAL, "%s", msg); }

/* ---- pools ---- */

static int pool_reserved(const char *p)
{
	return strncmp(p, "mirror", 6) == 0 || strncmp(p, "raidz", 5) == 0 || strncmp(p, "draid", 5) == 0 ||
	       strncmp(p, "spare", 5) == 0 || strcmp(p, "log") == 0;
}

static int pool_check(const char *p)
{
	if (strlen(p) >= POOL_MAXLEN)
		return invalid("name is too long");
	for (const char *c = p; *c; c++)
		if (!valid_char(*c))
			return terr(EINVAL, "invalid character '%c' in pool name", *c);
	if (!is_letter(p[0]))
		return invalid("name must begin with a letter");
	if (pool_reserved(p))
		return invalid("name is reserved");
	return 0;
}

/* ---- datasets, snapshots, bookmarks ---- */

/* libzfs's delimiter checks, done before the structural ones. */
static int delim_check(const char *name, enum name_kind kind)
{
	int has_at = strchr(name, '@') != NULL, has_hash = strchr(name, '#') != NULL;

	if (kind != NAME_SNAPSHOT && has_at)
		return invalid("snapshot delimiter '@' is not expected here");
	if (kind == NAME_SNAPSHOT && !has_at)
		return invalid("missing '@' delimiter in snapshot name");
	if (kind != NAME_BOOKMARK && has_hash)
		return invalid("bookmark delimiter '#' is not expected here");
	if (kind == NAME_BOOKMARK && !has_hash)
		return invalid("missing '#' delimiter in bookmark name");
	if (strchr(name, '%') != NULL)
		return invalid("invalid character % in name");
	return 0;
}

/* Checks one component [start, end); *end is its terminator ('/', '@', '#' or NUL). */
static int component_check(const char *start, const char *end)
{
	size_t n = (size_t)(end - start);

	for (const char *c = start; c < end; c++)
		if (!valid_char(*c) && *c != '%')
			return terr(EINVAL, "invalid character '%c' in name", *c);
	if (*end == '\0' || *end == '/') {
		if (n == 1 && start[0] == '.')
			return invalid("self reference, '.' is found in name");
		if (n == 2 && start[0] == '.' && start[1] == '.')
			return invalid("parent reference, '..' is found in name");
	}
	return 0;
}

/* OpenZFS entity_namecheck(): [component/]*component[(@|#)component]. */
static int entity_check(const char *name)
{
	const char *start = name, *end;
	int found_delim = 0;

	if (strlen(name) >= NAME_MAXLEN)
		return invalid("name is too long");
	if (name[0] == '/')
		return invalid("leading slash in name");
	if (name[0] == '\0')
		return invalid("empty component or misplaced '@' or '#' delimiter in name");
	for (;;) {
		end = start + strcspn(start, "/@#");
		if (*end == '\0' && end[-1] == '/')
			return invalid("trailing slash in name");
		TRY(component_check(start, end));
		if (*end == '@' || *end == '#') {
			if (found_delim)
				return invalid("multiple '@' and/or '#' delimiters in name");
			found_delim = 1;
		}
		if (start == end)
			return invalid("empty component or misplaced '@' or '#' delimiter in name");
		if (*end == '\0')
			return 0;
		if (*end == '/' && found_delim)
			return invalid("trailing slash in name");
		start = end + 1;
	}
}

/* OpenZFS dataset_nestcheck(): count '/' before any delimiter. */
static int nest_check(const char *name)
{
	int depth = 0;

	for (const char *c = name; *c && *c != '@' && *c != '#'; c++)
		depth += *c == '/';
	if (depth > NAME_MAX_NESTING)
		return invalid("maximum name nesting depth exceeded");
	return 0;
}

int name_check(const char *name, enum name_kind kind)
{
	switch (kind) {
	case NAME_POOL:
		return pool_check(name);
	case NAME_DATASET:
	case NAME_SNAPSHOT:
	case NAME_BOOKMARK:
		TRY(delim_check(name, kind));
		TRY(entity_check(name));
		return nest_check(name);
	}
	return terr(EINVAL, "unknown name kind %d", (int)kind);
}

/* ---- splitting ---- */

/* Copy n bytes of s into dst (cap bytes) and terminate; -EINVAL if it does not fit. */
static int copy_part(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap) {
		if (cap > 0)
			dst[0] = '\0';
		return invalid("name is too long");
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int name_split(const char *full, char *ds, size_t dslen, char *snap, size_t snaplen, char *sep)
{
	size_t n = strcspn(full, "@#");
	char d = full[n];

	if (sep)
		*sep = d;
	if (ds)
		TRY(copy_part(ds, dslen, full, n));
	if (snap) {
		const char *rest = d ? full + n + 1 : full + n;

		TRY(copy_part(snap, snaplen, rest, strlen(rest)));
	}
	return 0;
}

int name_pool(const char *ds, char *pool, size_t len)
{
	return copy_part(pool, len, ds, strcspn(ds, "/@#"));
}
