/* dsl/catalog.h — reading and writing the catalog (internal to dsl/): every dataset and
 * snapshot record, their properties and deadlist entries, and the pool properties, encoded
 * as one versioned byte sequence stored in a block-tree object (docs/format.md "Catalog"). */
#ifndef TARN_DSL_CATALOG_H
#define TARN_DSL_CATALOG_H

#include "dsl/dsl.h"

/* Load the catalog rooted at root (a CATALOG block) into d. */
int catalog_load(dsl_t *d, const bp_t *root);
/* Write d's catalog in the open txg; *root receives the new root block pointer. */
int catalog_save(dsl_t *d, bp_t *root);
void ds_free(dsl_ds_t *ds);

#endif
