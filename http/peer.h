// Who is at the other end of a connection that comes from this machine. A sandbox with
// network `host` shares the host's network: its processes connect to Hearth from
// 127.0.0.1 like a reverse proxy on the same machine would. Trust that rests on the
// address (a trusted proxy's X-Forwarded-For, /metrics for loopback clients) must not
// extend to them, so the edge asks the kernel (sock_diag) which user owns the client's
// socket.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace hearth::http {

// The uid owning the TCP socket at `peer_ip`:`peer_port` connected to `our_ip`:`our_port`,
// when that socket is on this machine; nullopt otherwise (a remote client, or the
// kernel does not say).
std::optional<uid_t> local_peer_uid(const std::string& peer_ip, int peer_port, const std::string& our_ip, int our_port);

}  // namespace hearth::http
