/* iscsi/io.c — logging for the iSCSI target: lines prefixed with the connection (its id,
 * initiator and target names) or with "iscsi: " (util/sock.c makes them printable). */
#include "iscsi/conn.h"

#include <stdarg.h>
#include <stdio.h>

void iscsi_log(iscsi_conn_t *c, const char *fmt, ...)
{
	char prefix[600];
	snprintf(prefix, sizeof(prefix), "iscsi: connection %llu%s%.223s%s%.223s: ", (unsigned long long)c->id,
		 c->initiator[0] ? " from " : "", c->initiator, c->target[0] ? " to " : "", c->target);
	va_list ap;
	va_start(ap, fmt);
	sock_vlog(c->s->log, c->s->logarg, prefix, fmt, ap);
	va_end(ap);
}

void iscsi_slog(iscsi_target_srv_t *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sock_vlog(s->log, s->logarg, "iscsi: ", fmt, ap);
	va_end(ap);
}
