/* pool/label.c — vdev labels and uberblocks: encoding, checksums, reading and writing
 * (docs/format.md "Label", "Uberblock"). */
#include "pool/label.h"

#include <stdlib.h>
#include <string.h>

#include "util/cksum.h"
#include "util/err.h"
#include "util/le.h"

#define LABEL_MAGIC 0x4c42414c4e524154ull /* "TARNLABL" */
#define UB_MAGIC 0x524542554e524154ull    /* "TARNUBER" */
#define TAIL (CKSUM_LEN)

static void seal(uint8_t *buf, size_t len)
{
	cksum_compute(CKSUM_XXH3_128, buf, len - TAIL, buf + len - TAIL);
}

static int sealed_ok(const uint8_t *buf, size_t len)
{
	uint8_t c[CKSUM_LEN];
	cksum_compute(CKSUM_XXH3_128, buf, len - TAIL, c);
	return cksum_equal(c, buf + len - TAIL);
}

void label_encode(const pool_label_t *l, uint8_t out[VDEV_LABEL_SIZE])
{
	memset(out, 0, VDEV_LABEL_SIZE);
	le_cur_t c = le_cur(out, VDEV_LABEL_SIZE - TAIL);
	le_w64(&c, LABEL_MAGIC);
	le_w32(&c, l->version);
	le_w32(&c, l->state);
	le_w64(&c, l->pool_guid);
	le_w64(&c, l->vdev_guid);
	le_w32(&c, l->vdev_index);
	le_w32(&c, l->nvdevs);
	le_w64(&c, l->vdev_size);
	le_w64(&c, l->create_time);
	le_wbytes(&c, l->name, POOL_NAME_MAX);
	for (uint32_t i = 0; i < l->nvdevs && i < POOL_MAX_VDEVS; i++)
		le_w64(&c, l->vdev_guids[i]);
	seal(out, VDEV_LABEL_SIZE);
}

int label_decode(const uint8_t in[VDEV_LABEL_SIZE], pool_label_t *l)
{
	le_cur_t c = le_cur((void *)in, VDEV_LABEL_SIZE - TAIL);
	memset(l, 0, sizeof(*l));
	if (le_r64(&c) != LABEL_MAGIC)
		return terr(EINVAL, "not a tarn pool device");
	if (!sealed_ok(in, VDEV_LABEL_SIZE))
		return terr(EINVAL, "label checksum mismatch");
	l->version = le_r32(&c);
	l->state = le_r32(&c);
	l->pool_guid = le_r64(&c);
	l->vdev_guid = le_r64(&c);
	l->vdev_index = le_r32(&c);
	l->nvdevs = le_r32(&c);
	l->vdev_size = le_r64(&c);
	l->create_time = le_r64(&c);
	le_rbytes(&c, l->name, POOL_NAME_MAX);
	int name_ok = memchr(l->name, 0, POOL_NAME_MAX) != NULL && l->name[0];
	l->name[POOL_NAME_MAX - 1] = 0; /* printable in the messages below either way */
	if (l->version > POOL_VERSION)
		return terr(ENOTSUP, "pool format version %u is newer than this tarn supports (%u)",
			    l->version, POOL_VERSION);
	if (l->version == 0 || l->nvdevs == 0 || l->nvdevs > POOL_MAX_VDEVS || l->vdev_index >= l->nvdevs ||
	    l->state > POOL_STATE_DESTROYED || !name_ok)
		return terr(EINVAL, "label is corrupt");
	for (uint32_t i = 0; i < l->nvdevs; i++)
		l->vdev_guids[i] = le_r64(&c);
	if (!c.ok || l->vdev_guids[l->vdev_index] != l->vdev_guid)
		return terr(EINVAL, "label is corrupt");
	return 0;
}

int label_read(vdev_t *v, pool_label_t *l)
{
	uint8_t *buf = malloc(2 * VDEV_LABEL_SIZE);
	if (!buf)
		return terr(ENOMEM, "out of memory");
	int rc = vdev_read(v, buf, 2 * VDEV_LABEL_SIZE, 0);
	if (rc == 0) {
		rc = label_decode(buf, l);
		if (rc < 0 && rc != -ENOTSUP) {
			char first[TERR_MSG_MAX];
			snprintf(first, sizeof(first), "%s", terr_msg());
			rc = label_decode(buf + VDEV_LABEL_SIZE, l);
			if (rc < 0 && rc != -ENOTSUP)
				rc = terr(EINVAL, "%s", first);
		}
	}
	free(buf);
	return rc;
}

int label_write(vdev_t *v, const pool_label_t *l)
{
	uint8_t *buf = malloc(VDEV_LABEL_SIZE);
	if (!buf)
		return terr(ENOMEM, "out of memory");
	label_encode(l, buf);
	int rc = vdev_write(v, buf, VDEV_LABEL_SIZE, 0);
	if (!rc)
		rc = vdev_flush(v);
	if (!rc)
		rc = vdev_write(v, buf, VDEV_LABEL_SIZE, VDEV_LABEL_SIZE);
	if (!rc)
		rc = vdev_flush(v);
	free(buf);
	return rc;
}

void ub_encode(const uberblock_t *u, uint8_t out[UB_SLOT_SIZE])
{
	memset(out, 0, UB_SLOT_SIZE);
	le_cur_t c = le_cur(out, UB_SLOT_SIZE - TAIL);
	le_w64(&c, UB_MAGIC);
	le_w32(&c, u->version);
	le_w32(&c, 0);
	le_w64(&c, u->txg);
	le_w64(&c, u->pool_guid);
	le_w64(&c, u->guid_sum);
	le_w64(&c, u->timestamp);
	uint8_t b[BP_SIZE];
	bp_encode(&u->catalog, b);
	le_wbytes(&c, b, BP_SIZE);
	bp_encode(&u->spacelog, b);
	le_wbytes(&c, b, BP_SIZE);
	le_w64(&c, u->log_entries);
	seal(out, UB_SLOT_SIZE);
}

int ub_decode(const uint8_t in[UB_SLOT_SIZE], uberblock_t *u)
{
	le_cur_t c = le_cur((void *)in, UB_SLOT_SIZE - TAIL);
	memset(u, 0, sizeof(*u));
	if (le_r64(&c) != UB_MAGIC || !sealed_ok(in, UB_SLOT_SIZE))
		return -EINVAL;
	u->version = le_r32(&c);
	if (u->version > POOL_VERSION)
		return -ENOTSUP; /* intact, but written by a newer tarn */
	if (le_r32(&c) != 0) /* reserved: a future feature we would not understand */
		return -ENOTSUP;
	u->txg = le_r64(&c);
	u->pool_guid = le_r64(&c);
	u->guid_sum = le_r64(&c);
	u->timestamp = le_r64(&c);
	uint8_t b[BP_SIZE];
	le_rbytes(&c, b, BP_SIZE);
	if (bp_decode(b, &u->catalog) < 0)
		return -EINVAL;
	le_rbytes(&c, b, BP_SIZE);
	if (bp_decode(b, &u->spacelog) < 0)
		return -EINVAL;
	u->log_entries = le_r64(&c);
	if (!c.ok || u->version == 0)
		return -EINVAL;
	return 0;
}
