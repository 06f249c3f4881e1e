/* daemon/iscsi_noserver.c — stands in for iscsi_server.c until the iSCSI protocol layer
 * (the .c files of src/iscsi) is merged: tarnd manages and holds LUs but serves no initiator.
 * AT MERGE: delete this file and rename iscsi_server.c.pending to iscsi_server.c. */
#include "daemon/daemon.h"
#include "daemon/internal.h"

int daemon_iscsi_server_start(const struct iscsi_backend *be, const char *portal)
{
	(void)be;
	daemon_log("iSCSI: this tarnd is built without the iSCSI target (src/iscsi): not listening on %s", portal);
	return 0;
}

void daemon_iscsi_server_stop(void) {}
