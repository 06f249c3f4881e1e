/* util/sock_listen.h — listening sockets for the network servers: "ADDR:PORT" / "[V6]:PORT"
 * parsing, bound TCP sockets (IPv4 or IPv6, SO_REUSEADDR) and Unix sockets (a stale socket
 * file of a dead server is replaced). Sockets are SOCK_CLOEXEC with a backlog of 128. */
#ifndef TARN_UTIL_SOCK_LISTEN_H
#define TARN_UTIL_SOCK_LISTEN_H

#include <stddef.h>

/* Split where ("HOST:PORT", ":PORT", "[V6]:PORT") into host (NUL-terminated in host[0..hostcap),
 * "" meaning any address) and *port (points into where, or is default_port). Without a ':'
 * the port is default_port; with default_port NULL that is an error. 0, or -EINVAL with the
 * message ("bad address '...' (...)", "address too long: ..."). */
int sock_split_addr(const char *where, const char *default_port, char *host, size_t hostcap, const char **port);

/* A TCP socket bound to where (see sock_split_addr) and listening. *fd gets the socket (the
 * caller closes it), *port the bound port (useful with port 0; 0 if unknown). 0, or a negative
 * errno with the message ("listen on <where>: Address already in use", a resolver error). */
int sock_listen_tcp(const char *where, const char *default_port, int *fd, int *port);

/* A Unix stream socket bound to path and listening; *fd gets it. A socket file nobody accepts
 * on is removed first; a live one is an error (-EADDRINUSE, "<path>: address in use"). The
 * caller closes the socket and unlinks path. 0 or a negative errno with the message. */
int sock_listen_unix(const char *path, int *fd);

#endif
