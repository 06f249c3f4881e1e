/* daemon/internal.h — shared between the daemon's own files, not part of its interface. */
#ifndef TARN_DAEMON_INTERNAL_H
#define TARN_DAEMON_INTERNAL_H

/* The running command's control connection (readable = the caller hung up), per thread. */
extern __thread int daemon_cancel_fd;
void daemon_set_active(int on);
/* Set when tarnd begins to shut down: waiting streams give up (ECANCELED). */
extern volatile int daemon_stopping;
void daemon_pools_close_all(void);
/* Commit every pool with dirty data (the sync thread, every txg_timeout seconds). */
void daemon_sync_all(void);
/* Control socket: listen / accept loop / stop. */
int ctl_listen_start(int (*dispatch)(int, char **));
void ctl_stop(void);

/* The iSCSI target server over backend be (iscsi_server.c, which needs src/iscsi; until that
 * is merged, iscsi_noserver.c stands in and serves nothing). */
struct iscsi_backend;
int daemon_iscsi_server_start(const struct iscsi_backend *be, const char *portal);
void daemon_iscsi_server_stop(void);

#endif
