/* cli/zfsprops.h — dataset property names, headers and printed values for zfs list/get. */
#ifndef TARN_CLI_ZFSPROPS_H
#define TARN_CLI_ZFSPROPS_H

#include <stddef.h>

#include "dsl/dsl.h"

extern const char *const zprop_all[];
/* Canonical name for a property or its short alias (user props pass through); NULL if unknown. */
const char *zprop_canon(const char *name);
/* Column header (e.g. "USEDSNAP"); buf is used for user properties. */
const char *zprop_header(const char *canon, char *buf, size_t len);
int zprop_numeric(const char *canon);
/* Printed value and source of a property; -1 if it does not apply to this dataset type. */
int zprop_value(dsl_t *d, dsl_ds_t *ds, const char *prop, int parsable, char *out, size_t len, char *src,
		size_t srclen);

#endif
