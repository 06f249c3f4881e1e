/* util/names.h — pool, dataset, snapshot and bookmark names: validation with the exact
 * messages zfs(8)/zpool(8) print after "cannot create '<name>': ", and splitting. */
#ifndef TARN_UTIL_NAMES_H
#define TARN_UTIL_NAMES_H

#include <stddef.h>

/* Size of a buffer that holds any valid full name (ZFS_MAX_DATASET_NAME_LEN): valid names
 * are at most NAME_MAXLEN - 1 characters. */
#define NAME_MAXLEN 256
/* Maximum number of '/' in a valid name (OpenZFS zfs_max_dataset_nesting - 1). */
#define NAME_MAX_NESTING 49

enum name_kind {
	NAME_POOL,     /* "tank" */
	NAME_DATASET,  /* "tank/a/b" (filesystem or volume) */
	NAME_SNAPSHOT, /* "tank/a@snap" */
	NAME_BOOKMARK, /* "tank/a#mark" */
};

/* Validate `name` (NUL-terminated, not NULL) as a name of `kind` about to be created. Returns
 * 0, or -EINVAL with one of these terr() messages (OpenZFS libzfs wording):
 *   all but pools: "snapshot delimiter '@' is not expected here",
 *     "missing '@' delimiter in snapshot name", "bookmark delimiter '#' is not expected here",
 *     "missing '#' delimiter in bookmark name", "invalid character % in name" (sic, no
 *     quotes: '%' is reserved for internal temporary names), "name is too long",
 *     "leading slash in name", "empty component or misplaced '@' or '#' delimiter in name",
 *     "trailing slash in name", "invalid character '<c>' in name",
 *     "multiple '@' and/or '#' delimiters in name", "self reference, '.' is found in name",
 *     "parent reference, '..' is found in name", "maximum name nesting depth exceeded";
 *   pools: "name is too long" (240 characters or more, room for "/$ORIGIN@$ORIGIN"),
 *     "invalid character '<c>' in pool name", "name must begin with a letter",
 *     "name is reserved" (mirror*, raidz*, draid*, spare*, log).
 * Valid characters are ASCII letters, digits and "-_.: " (space included, as in ZFS). The
 * first component of a dataset name is not checked against the pool rules (zfs(8) does not
 * either: it reports a missing pool later). */
int name_check(const char *name, enum name_kind kind);

/* Split `full` at its first '@' or '#': the part before goes to ds (dslen bytes), the part
 * after to snap (snaplen bytes, "" if there is no delimiter), the delimiter to *sep ('@', '#'
 * or 0). ds, snap and sep may each be NULL if not wanted. Does not validate the name. Returns
 * 0, or -EINVAL "name is too long" if a wanted part does not fit its buffer (outputs are then
 * unspecified but NUL-terminated when their length is non-zero). */
int name_split(const char *full, char *ds, size_t dslen, char *snap, size_t snaplen, char *sep);

/* Copy the first component of `ds` (up to the first '/', '@' or '#'; may be empty if ds is
 * not valid) into pool (len bytes). Returns 0, or -EINVAL "name is too long" if it does not
 * fit. */
int name_pool(const char *ds, char *pool, size_t len);

#endif
