/* util/err.c — thread-local error message store (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static __thread char terr_buf[TERR_MSG_MAX];
static __thread int terr_last;

int terr(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(terr_buf, sizeof(terr_buf), fmt, ap);
	va_end(ap);
	terr_last = code;
	return -code;
}

int terr_prefix(int ret, const char *fmt, ...)
{
	char pre[TERR_MSG_MAX / 2], old[TERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, terr_buf, sizeof(old));
	size_t n = strlen(pre);
	memcpy(terr_buf, pre, n + 1);
	if (old[0] && n + 2 < sizeof(terr_buf)) {
		memcpy(terr_buf + n, ": ", 3);
		size_t room = sizeof(terr_buf) - n - 3;
		size_t ol = strlen(old);
		if (ol > room)
			ol = room;
		memcpy(terr_buf + n + 2, old, ol);
		terr_buf[n + 2 + ol] = 0;
	}
	if (ret < 0 && terr_last == 0)
		terr_last = -ret;
	return ret;
}

const char *terr_msg(void) { return terr_buf; }
int terr_code(void) { return terr_last; }
void terr_clear(void)
{
	terr_buf[0] = 0;
	terr_last = 0;
}
