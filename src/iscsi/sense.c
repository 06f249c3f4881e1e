/* iscsi/sense.c — fixed-format sense data (SPC-4 4.5.3): response code 0x70, sense key,
 * ASC/ASCQ, the INFORMATION field (MISCOMPARE offsets) and the sense-key specific field
 * pointer for INVALID FIELD IN CDB / PARAMETER LIST. Only CHECK CONDITION carries sense. */
#include "iscsi/conn.h"

#include <errno.h>
#include <string.h>

void iscsi_sense(iscsi_task_t *t, uint8_t key, uint16_t ascq)
{
	t->failed = 1;
	t->status = SAM_CHECK_CONDITION;
	memset(t->sense, 0, sizeof(t->sense));
	t->sense[0] = 0x70;
	t->sense[2] = key & 0x0f;
	t->sense[7] = 10; /* additional sense length: bytes 8..17 */
	t->sense[12] = (uint8_t)(ascq >> 8);
	t->sense[13] = (uint8_t)ascq;
	t->senselen = 18;
}

void iscsi_sense_info(iscsi_task_t *t, uint8_t key, uint16_t ascq, uint32_t info)
{
	iscsi_sense(t, key, ascq);
	t->sense[0] |= 0x80; /* VALID: INFORMATION holds something */
	ib_put32(t->sense + 3, info);
}

void iscsi_sense_field(iscsi_task_t *t, int cdb, uint16_t byte, int bit)
{
	iscsi_sense(t, SK_ILLEGAL_REQUEST, cdb ? ASC_INVALID_FIELD_CDB : ASC_INVALID_FIELD_PARAM);
	t->sense[15] = (uint8_t)(0x80 | (cdb ? 0x40 : 0) | (bit >= 0 ? 0x08 | (bit & 7) : 0));
	ib_put16(t->sense + 16, byte);
}

void iscsi_sense_errno(iscsi_task_t *t, int rc, int write)
{
	switch (rc < 0 ? -rc : rc) {
	case EROFS:
	case EPERM:
	case EACCES:
		iscsi_sense(t, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
		break;
	case ENOSPC:
	case EDQUOT:
		iscsi_sense(t, SK_DATA_PROTECT, ASC_SPACE_ALLOC_FAILED);
		break;
	case EINVAL:
	case ERANGE:
		iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		break;
	case ENOMEM:
		iscsi_sense(t, SK_ABORTED_COMMAND, ASC_INTERNAL_FAILURE);
		break;
	case ENOENT:
	case ESHUTDOWN:
		iscsi_sense(t, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
		break;
	default:
		iscsi_sense(t, SK_MEDIUM_ERROR, write ? ASC_WRITE_ERROR : ASC_READ_ERROR);
		break;
	}
}
