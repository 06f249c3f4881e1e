/* cli/zfsprops.c — how each dataset property prints in zfs list / zfs get. */
#include "cli/zfsprops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/recv.h"
#include "util/nicenum.h"
#include "util/timefmt.h"

static const struct {
	const char *name, *alias, *header;
	int numeric;
} props[] = {
	{ "name", NULL, "NAME", 0 },
	{ "type", NULL, "TYPE", 0 },
	{ "creation", NULL, "CREATION", 0 },
	{ "used", NULL, "USED", 1 },
	{ "available", "avail", "AVAIL", 1 },
	{ "referenced", "refer", "REFER", 1 },
	{ "volsize", NULL, "VOLSIZE", 1 },
	{ "volblocksize", "volblock", "VOLBLOCK", 1 },
	{ "checksum", NULL, "CHECKSUM", 0 },
	{ "compression", "compress", "COMPRESS", 0 },
	{ "readonly", "rdonly", "RDONLY", 0 },
	{ "refreservation", "refreserv", "REFRESERV", 1 },
	{ "reservation", "reserv", "RESERV", 1 },
	{ "clones", NULL, "CLONES", 0 },
	{ "guid", NULL, "GUID", 0 },
	{ "usedbysnapshots", "usedsnap", "USEDSNAP", 1 },
	{ "usedbydataset", "usedds", "USEDDS", 1 },
	{ "usedbychildren", "usedchild", "USEDCHILD", 1 },
	{ "usedbyrefreservation", "usedrefreserv", "USEDREFRESERV", 1 },
	{ "createtxg", NULL, "CREATETXG", 0 },
	{ "origin", NULL, "ORIGIN", 0 },
	{ "written", NULL, "WRITTEN", 1 },
	{ "mountpoint", NULL, "MOUNTPOINT", 0 },
	{ "compressratio", "ratio", "RATIO", 1 },
	{ "refcompressratio", "refratio", "REFRATIO", 1 },
	{ "logicalused", "lused", "LUSED", 1 },
	{ "logicalreferenced", "lrefer", "LREFER", 1 },
	{ "receive_resume_token", NULL, "RECEIVE_RESUME_TOKEN", 0 },
	{ "sharenbd", NULL, "SHARENBD", 0 },
};
#define NPROPS (sizeof(props) / sizeof(props[0]))

/* `zfs get all` order */
const char *const zprop_all[] = { "type", "creation", "used", "available", "referenced", "compressratio",
				  "volsize", "volblocksize", "checksum", "compression", "readonly", "createtxg",
				  "origin", "clones", "reservation", "refreservation", "guid", "usedbysnapshots", "usedbydataset",
				  "usedbychildren", "usedbyrefreservation", "written", "logicalused",
				  "logicalreferenced", "refcompressratio", "sharenbd", NULL };

const char *zprop_canon(const char *name)
{
	if (!strncmp(name, "written@", 8))
		return name;
	for (size_t i = 0; i < NPROPS; i++)
		if (!strcmp(props[i].name, name) || (props[i].alias && !strcmp(props[i].alias, name)))
			return props[i].name;
	if (strchr(name, ':'))
		return name;
	return NULL;
}

const char *zprop_header(const char *canon, char *buf, size_t len)
{
	for (size_t i = 0; i < NPROPS; i++)
		if (!strcmp(props[i].name, canon))
			return props[i].header;
	snprintf(buf, len, "%s", canon);
	for (char *c = buf; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	return buf;
}

int zprop_numeric(const char *canon)
{
	for (size_t i = 0; i < NPROPS; i++)
		if (!strcmp(props[i].name, canon))
			return props[i].numeric;
	return 0;
}

static const char *type_name(int t)
{
	return t == DS_VOLUME ? "volume" : t == DS_SNAPSHOT ? "snapshot" : t == DS_BOOKMARK ? "bookmark" : "filesystem";
}

static void size_str(uint64_t v, int parsable, char *out, size_t len)
{
	if (parsable)
		snprintf(out, len, "%llu", (unsigned long long)v);
	else
		nicebytes(v, out, len);
}

int zprop_value(dsl_t *d, dsl_ds_t *ds, const char *prop, int parsable, char *out, size_t len, char *src,
		size_t srclen)
{
	dsl_space_t s;
	int snap = ds->type == DS_SNAPSHOT, vol = ds->type == DS_VOLUME ||
						 (snap && dsl_by_id(d, ds->parent)->type == DS_VOLUME);
	snprintf(src, srclen, "-");
	if (ds->type == DS_BOOKMARK && strcmp(prop, "name") && strcmp(prop, "type") && strcmp(prop, "creation") &&
	    strcmp(prop, "guid") && strcmp(prop, "createtxg"))
		return -1;
	dsl_space(d, ds, &s);
	if (!strcmp(prop, "name")) {
		dsl_fullname(d, ds, out, len);
	} else if (!strcmp(prop, "type")) {
		snprintf(out, len, "%s", type_name(ds->type));
	} else if (!strcmp(prop, "creation")) {
		if (parsable)
			snprintf(out, len, "%llu", (unsigned long long)ds->creation);
		else
			fmt_creation((int64_t)ds->creation, out, len);
	} else if (!strcmp(prop, "used")) {
		size_str(s.used, parsable, out, len);
	} else if (!strcmp(prop, "available")) {
		if (snap)
			snprintf(out, len, "-");
		else
			size_str(s.avail, parsable, out, len);
	} else if (!strcmp(prop, "referenced")) {
		size_str(s.referenced, parsable, out, len);
	} else if (!strcmp(prop, "usedbysnapshots") || !strcmp(prop, "usedbydataset") ||
		   !strcmp(prop, "usedbychildren") || !strcmp(prop, "usedbyrefreservation")) {
		uint64_t v = !strcmp(prop, "usedbysnapshots") ? s.usedsnap
			     : !strcmp(prop, "usedbydataset") ? s.usedds
			     : !strcmp(prop, "usedbychildren") ? s.usedchild
							       : s.usedrefreserv;
		if (snap)
			snprintf(out, len, "-");
		else
			size_str(v, parsable, out, len);
	} else if (!strcmp(prop, "volsize") || !strcmp(prop, "volblocksize")) {
		if (!vol)
			return -1;
		size_str(!strcmp(prop, "volsize") ? ds->volsize : ds->volblocksize, parsable, out, len);
		snprintf(src, srclen, !strcmp(prop, "volsize") && !snap ? "local" : "default");
		if (!strcmp(prop, "volblocksize"))
			snprintf(src, srclen, "-");
	} else if (!strcmp(prop, "guid")) {
		snprintf(out, len, "%llu", (unsigned long long)ds->guid);
	} else if (!strcmp(prop, "createtxg")) {
		snprintf(out, len, "%llu", (unsigned long long)ds->createtxg);
	} else if (!strcmp(prop, "origin")) {
		dsl_ds_t *o = ds->origin ? dsl_by_id(d, ds->origin) : NULL;
		if (snap)
			return -1;
		if (o)
			dsl_fullname(d, o, out, len);
		else
			snprintf(out, len, "-");
	} else if (!strcmp(prop, "written")) {
		uint64_t w = s.written;
		if (snap) { /* bytes born since the snapshot before it (all of it for the first) */
			dsl_ds_t **v, *prev = NULL, *head = dsl_by_id(d, ds->parent);
			size_t n = dsl_snapshots(d, head, &v);
			for (size_t i = 0; i < n && v[i] != ds; i++)
				prev = v[i];
			free(v);
			if (!prev && head->origin)
				prev = dsl_by_id(d, head->origin);
			w = s.referenced;
			if (prev && dsl_written_since(d, ds, prev, &w) < 0)
				return -1;
		}
		size_str(w, parsable, out, len);
	} else if (!strncmp(prop, "written@", 8)) {
		char full[DS_NAME_MAX * 2], hn[DS_NAME_MAX];
		const dsl_ds_t *head = dsl_is_head(ds) ? ds : dsl_by_id(d, ds->parent);
		dsl_fullname(d, head, hn, sizeof(hn));
		if (prop[8] == '@' || strchr(prop + 8, '@') || strchr(prop + 8, '/'))
			snprintf(full, sizeof(full), "%s", prop + 8);
		else
			snprintf(full, sizeof(full), "%s@%s", hn, prop + 8);
		dsl_ds_t *since = dsl_lookup(d, full);
		uint64_t w;
		if (!since || dsl_written_since(d, ds, since, &w) < 0)
			return -1;
		size_str(w, parsable, out, len);
	} else if (!strcmp(prop, "compressratio") || !strcmp(prop, "refcompressratio")) {
		uint64_t r = !strcmp(prop, "compressratio") ? s.compressratio : s.refcompressratio;
		snprintf(out, len, parsable ? "%llu.%02llu" : "%llu.%02llux", (unsigned long long)(r / 100),
			 (unsigned long long)(r % 100));
	} else if (!strcmp(prop, "logicalused") || !strcmp(prop, "logicalreferenced")) {
		size_str(!strcmp(prop, "logicalused") ? s.logicalused : s.logicalreferenced, parsable, out, len);
	} else if (!strcmp(prop, "receive_resume_token")) {
		if (snap)
			return -1;
		char name[DS_NAME_MAX];
		dsl_fullname(d, ds, name, sizeof(name));
		stream_resume_token(d, name, out, len);
	} else if (!strcmp(prop, "mountpoint")) {
		if (vol || snap)
			return -1;
		snprintf(out, len, "none");
		snprintf(src, srclen, "default");
	} else if (!strcmp(prop, "reservation")) {
		if (snap)
			return -1;
		/* tarn reserves space with refreservation only; reservation is always none */
		snprintf(out, len, parsable ? "0" : "none");
		snprintf(src, srclen, dsl_prop_find(ds, "reservation") ? "local" : "default");
	} else if (!strcmp(prop, "clones")) {
		if (!snap)
			return -1;
		size_t pos = 0;
		out[0] = 0;
		for (size_t i = 0; i < d->nds; i++)
			if (d->ds[i]->origin == ds->id) {
				char cn[DS_NAME_MAX];
				dsl_fullname(d, d->ds[i], cn, sizeof(cn));
				pos += (size_t)snprintf(out + pos, pos < len ? len - pos : 0, "%s%s", pos ? "," : "", cn);
			}
		if (!out[0])
			snprintf(out, len, "%s", "");
	} else if (!strcmp(prop, "refreservation")) {
		if (snap)
			return -1;
		const dsl_prop_t *p = dsl_prop_find(ds, "refreservation");
		if (!p || !strcmp(p->value, "none"))
			snprintf(out, len, parsable ? "0" : "none");
		else
			size_str(strtoull(p->value, NULL, 10), parsable, out, len);
		snprintf(src, srclen, p ? (p->source == PROP_LOCAL ? "local" : "received") : "default");
	} else {
		/* inheritable or user properties */
		const dsl_ds_t *from;
		uint8_t source;
		const char *v = dsl_prop_get(d, ds, prop, &from, &source);
		int user = strchr(prop, ':') != NULL;
		if (!v && user) {
			snprintf(out, len, "-");
			snprintf(src, srclen, "-");
			return 0;
		}
		if (!v) {
			v = !strcmp(prop, "compression") ? "on" : !strcmp(prop, "checksum") ? "on" : "off";
			snprintf(src, srclen, "default");
		} else if (from == ds) {
			snprintf(src, srclen, "%s", source == PROP_LOCAL ? "local" : "received");
		} else {
			char fn[DS_NAME_MAX];
			dsl_fullname(d, from, fn, sizeof(fn));
			snprintf(src, srclen, "inherited from %s", fn);
		}
		if (snap && !user && strcmp(prop, "compression") && strcmp(prop, "checksum") && strcmp(prop, "readonly"))
			return -1;
		snprintf(out, len, "%s", v);
	}
	return 0;
}
