/* util/sock_listen.c — address parsing and listening TCP / Unix sockets. */
#include "util/sock_listen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/err.h"

int sock_split_addr(const char *where, const char *default_port, char *host, size_t hostcap, const char **port)
{
	const char *colon;
	size_t hl;
	if (where[0] == '[') {
		const char *end = strchr(where, ']');
		if (!end || end[1] != ':')
			return terr(EINVAL, "bad address '%s' (want [ADDR]:PORT)", where);
		hl = (size_t)(end - where - 1);
		memcpy(host, where + 1, hl < hostcap ? hl : 0);
		colon = end + 1;
	} else {
		colon = strrchr(where, ':');
		if (!colon && !default_port)
			return terr(EINVAL, "bad address '%s' (want ADDR:PORT or a socket path)", where);
		if (!colon)
			colon = where + strlen(where);
		hl = (size_t)(colon - where);
		memcpy(host, where, hl < hostcap ? hl : 0);
	}
	if (hl >= hostcap)
		return terr(EINVAL, "address too long: %s", where);
	host[hl] = 0;
	*port = *colon ? colon + 1 : default_port;
	if (!**port)
		return terr(EINVAL, "bad address '%s': no port", where);
	return 0;
}

int sock_listen_tcp(const char *where, const char *default_port, int *out, int *port_out)
{
	char host[256];
	const char *port = NULL;
	TRY(sock_split_addr(where, default_port, host, sizeof(host), &port));
	struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (g != 0)
		return terr(EINVAL, "%s: %s", where, gai_strerror(g));
	int fd = -1, e = EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return terr(e, "listen on %s: %s", where, strerror(e));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	*port_out = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			*port_out = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			*port_out = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	*out = fd;
	return 0;
}

int sock_listen_unix(const char *path, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return terr(ENAMETOOLONG, "unix socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return terr(errno, "socket: %s", strerror(errno));
	int b = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (b < 0 && errno == EADDRINUSE) {
		/* a socket file left by a dead server can go; a live one stays */
		struct stat st;
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int stale = probe >= 0 && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
			    connect(probe, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == ECONNREFUSED;
		if (probe >= 0)
			close(probe);
		if (!stale) {
			close(fd);
			return terr(EADDRINUSE, "%s: address in use", path);
		}
		unlink(path);
		b = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	}
	if (b < 0) {
		int e = errno;
		close(fd);
		return terr(e, "bind %s: %s", path, strerror(e));
	}
	if (listen(fd, 128) < 0) {
		int e = errno;
		close(fd);
		unlink(path);
		return terr(e, "listen %s: %s", path, strerror(e));
	}
	*out = fd;
	return 0;
}
