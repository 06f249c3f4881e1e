/* dsl/props.c — dataset properties: local/received values, inheritance, validation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "util/cksum.h"
#include "util/compress.h"
#include "util/err.h"
#include "util/strnum.h"

/* Native properties that can be set, and whether children inherit them. */
static const struct {
	const char *name;
	int inherit;
} settable[] = {
	{ "compression", 1 }, { "checksum", 1 }, { "readonly", 1 }, { "refreservation", 0 }, { "reservation", 0 },
	{ "sharenbd", 1 },
};

static int is_user_prop(const char *name) { return strchr(name, ':') != NULL; }

static int native_index(const char *name)
{
	for (size_t i = 0; i < sizeof(settable) / sizeof(settable[0]); i++)
		if (!strcmp(settable[i].name, name))
			return (int)i;
	return -1;
}

const dsl_prop_t *dsl_prop_find(const dsl_ds_t *ds, const char *name)
{
	const dsl_prop_t *recv = NULL;
	for (size_t i = 0; i < ds->nprops; i++)
		if (!strcmp(ds->props[i].name, name)) {
			if (ds->props[i].source == PROP_LOCAL)
				return &ds->props[i];
			recv = &ds->props[i];
		}
	return recv;
}

const char *dsl_prop_get(const dsl_t *d, const dsl_ds_t *ds, const char *name, const dsl_ds_t **source_ds,
			 uint8_t *source)
{
	int idx = native_index(name);
	int inherit = is_user_prop(name) || (idx >= 0 && settable[idx].inherit);
	const dsl_ds_t *cur = ds;
	/* snapshots take inheritable values from their dataset */
	if (ds->type == DS_SNAPSHOT) {
		const dsl_prop_t *p = dsl_prop_find(ds, name);
		if (p) {
			if (source_ds)
				*source_ds = ds;
			if (source)
				*source = p->source;
			return p->value;
		}
		if (!inherit)
			return NULL;
		cur = dsl_by_id(d, ds->parent);
	}
	for (; cur; cur = cur->parent ? dsl_by_id(d, cur->parent) : NULL) {
		const dsl_prop_t *p = dsl_prop_find(cur, name);
		if (p) {
			if (source_ds)
				*source_ds = cur;
			if (source)
				*source = p->source;
			return p->value;
		}
		if (!inherit)
			break;
	}
	if (source_ds)
		*source_ds = NULL;
	return NULL;
}

/* Native properties that exist but cannot be set. */
static const char *const readonly_props[] = {
	"type", "creation", "used", "available", "avail", "referenced", "refer", "compressratio", "ratio",
	"refcompressratio", "usedbysnapshots", "usedsnap", "usedbydataset", "usedds", "usedbychildren",
	"usedchild", "usedbyrefreservation", "usedrefreserv", "logicalused", "logicalreferenced", "written",
	"guid", "createtxg", "origin", "name", "volblocksize", "receive_resume_token", "clones", NULL
};

int dsl_prop_validate(const char *name, const char *value, int type)
{
	if (is_user_prop(name)) {
		if (strlen(name) >= PROP_NAME_MAX)
			return terr(EINVAL, "property name '%s' is too long", name);
		for (const char *c = name; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || strchr(":-_.", *c)))
				return terr(EINVAL, "invalid property '%s'", name);
		if (strlen(value) >= PROP_VALUE_MAX)
			return terr(EINVAL, "property value is too long");
		return 0;
	}
	int idx = native_index(name);
	for (int i = 0; idx < 0 && readonly_props[i]; i++)
		if (!strcmp(readonly_props[i], name))
			return terr(EINVAL, "'%s' is readonly", name);
	if (idx < 0)
		return terr(EINVAL, "invalid property '%s'", name);
	if (!strcmp(name, "compression")) {
		enum comp_alg a;
		if (comp_parse(value, &a) < 0)
			return terr(EINVAL, "'compression' must be one of 'on | off | lz4 | zstd'");
	} else if (!strcmp(name, "checksum")) {
		enum cksum_type t;
		if (cksum_parse(value, &t) < 0)
			return terr(EINVAL, "'checksum' must be one of 'on | xxh3 | sha256'");
	} else if (!strcmp(name, "readonly")) {
		int b;
		if (parse_bool_onoff(value, &b) < 0)
			return terr(EINVAL, "'readonly' must be one of 'on | off'");
	} else if (!strcmp(name, "sharenbd")) {
		if (strcmp(value, "on") && strcmp(value, "off") && strcmp(value, "ro"))
			return terr(EINVAL, "'sharenbd' must be one of 'on | off | ro'");
	} else if (!strcmp(name, "reservation")) {
		uint64_t v;
		if (strcmp(value, "none") && parse_size(value, &v) < 0)
			return terr(EINVAL, "bad numeric value '%s'", value);
		if (strcmp(value, "none") && v != 0)
			return terr(ENOTSUP, "'reservation' is not supported yet (use refreservation)");
	} else if (!strcmp(name, "refreservation")) {
		uint64_t v;
		if (strcmp(value, "none") && strcmp(value, "auto") && parse_size(value, &v) < 0)
			return terr(EINVAL, "bad numeric value '%s'", value);
		if (!strcmp(value, "auto") && type != DS_VOLUME)
			return terr(EINVAL, "'refreservation=auto' only supported on volumes");
	}
	if (type == DS_SNAPSHOT)
		return terr(EINVAL, "this property can not be modified for snapshots");
	return 0;
}

/* Store values normalized: sizes as exact decimal byte counts. */
static int normalize(const dsl_ds_t *ds, const char *name, const char *value, char *out, size_t len)
{
	if (!strcmp(name, "refreservation")) {
		uint64_t v = 0;
		if (!strcmp(value, "auto"))
			v = dsl_vol_refreservation(ds->volsize, ds->volblocksize);
		else if (strcmp(value, "none"))
			TRY(parse_size(value, &v));
		if (v == 0)
			snprintf(out, len, "none");
		else
			snprintf(out, len, "%llu", (unsigned long long)v);
		return 0;
	}
	if ((size_t)snprintf(out, len, "%s", value) >= len)
		return terr(EINVAL, "property value is too long");
	return 0;
}

int dsl_prop_set(dsl_t *d, dsl_ds_t *ds, const char *name, const char *value, uint8_t source)
{
	dsl_changed(d);
	(void)d;
	TRY(dsl_prop_validate(name, value, ds->type));
	char *norm = malloc(PROP_VALUE_MAX);
	if (!norm)
		return terr(ENOMEM, "out of memory");
	int rc = normalize(ds, name, value, norm, PROP_VALUE_MAX);
	if (rc < 0) {
		free(norm);
		return rc;
	}
	for (size_t i = 0; i < ds->nprops; i++)
		if (!strcmp(ds->props[i].name, name) && ds->props[i].source == source) {
			free(ds->props[i].value);
			ds->props[i].value = norm;
			return 0;
		}
	dsl_prop_t *np = realloc(ds->props, (ds->nprops + 1) * sizeof(*np));
	char *nm = strdup(name);
	if (!np || !nm) {
		free(norm);
		free(nm);
		if (np)
			ds->props = np;
		return terr(ENOMEM, "out of memory");
	}
	ds->props = np;
	ds->props[ds->nprops++] = (dsl_prop_t){ nm, norm, source };
	return 0;
}

int dsl_prop_inherit(dsl_t *d, dsl_ds_t *ds, const char *name)
{
	dsl_changed(d);
	(void)d;
	if (!is_user_prop(name) && native_index(name) < 0)
		return terr(EINVAL, "invalid property '%s'", name);
	size_t keep = 0;
	for (size_t i = 0; i < ds->nprops; i++) {
		if (!strcmp(ds->props[i].name, name) && ds->props[i].source == PROP_LOCAL) {
			free(ds->props[i].name);
			free(ds->props[i].value);
		} else {
			ds->props[keep++] = ds->props[i];
		}
	}
	ds->nprops = keep;
	return 0;
}

int dsl_readonly(const dsl_t *d, const dsl_ds_t *ds)
{
	const char *v = dsl_prop_get(d, ds, "readonly", NULL, NULL);
	return ds->type == DS_SNAPSHOT || (v && !strcmp(v, "on"));
}

int dsl_prop_set_internal(dsl_ds_t *ds, const char *name, const char *value)
{
	for (size_t i = 0; i < ds->nprops; i++)
		if (!strcmp(ds->props[i].name, name)) {
			char *v = strdup(value);
			if (!v)
				return terr(ENOMEM, "out of memory");
			free(ds->props[i].value);
			ds->props[i].value = v;
			return 0;
		}
	dsl_prop_t *np = realloc(ds->props, (ds->nprops + 1) * sizeof(*np));
	char *n = strdup(name), *v = strdup(value);
	if (np)
		ds->props = np;
	if (!np || !n || !v) {
		free(n);
		free(v);
		return terr(ENOMEM, "out of memory");
	}
	ds->props[ds->nprops++] = (dsl_prop_t){ n, v, PROP_LOCAL };
	return 0;
}

void dsl_prop_remove(dsl_ds_t *ds, const char *name, int source)
{
	size_t keep = 0;
	for (size_t i = 0; i < ds->nprops; i++) {
		if (!strcmp(ds->props[i].name, name) && (!source || ds->props[i].source == source)) {
			free(ds->props[i].name);
			free(ds->props[i].value);
		} else {
			ds->props[keep++] = ds->props[i];
		}
	}
	ds->nprops = keep;
}
