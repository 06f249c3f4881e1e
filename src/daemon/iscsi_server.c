/* daemon/iscsi_server.c — the iSCSI target (src/iscsi) over tarnd's backend
 * (iscsi_exports.c): one listener on the portal, a thread per connection.
 */
#include "daemon/daemon.h"
#include "daemon/internal.h"

#include <errno.h>

#include "iscsi/iscsi.h"
#include "util/err.h"

static iscsi_target_srv_t *srv;

static void log_line(void *arg, const char *line)
{
	(void)arg;
	daemon_log("iSCSI: %s", line);
}

int daemon_iscsi_server_start(const struct iscsi_backend *be, const char *portal)
{
	srv = iscsi_srv_new(be);
	if (!srv)
		return terr_prefix(-ENOMEM, "iSCSI target");
	iscsi_srv_set_log(srv, log_line, NULL);
	int port = iscsi_srv_listen(srv, portal);
	if (port < 0) {
		iscsi_srv_free(srv);
		srv = NULL;
		return terr_prefix(port, "iSCSI portal %s", portal);
	}
	daemon_log("iSCSI: listening on %s (port %d)", portal, port);
	return 0;
}

void daemon_iscsi_server_stop(void)
{
	if (srv)
		iscsi_srv_free(srv); /* drops every connection; their LU handles close */
	srv = NULL;
}
