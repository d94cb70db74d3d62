// The owner of a local peer's socket, through NETLINK_SOCK_DIAG: see peer.h.
#include "http/peer.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace hearth::http {

std::optional<uid_t> local_peer_uid(const std::string& peer_ip, int peer_port, const std::string& our_ip, int our_port) {
  inet_diag_req_v2 req{};
  req.sdiag_protocol = IPPROTO_TCP;
  req.idiag_states = ~0u;
  req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  // The client's socket: its source is the peer, its destination us.
  req.id.idiag_sport = htons(static_cast<std::uint16_t>(peer_port));
  req.id.idiag_dport = htons(static_cast<std::uint16_t>(our_port));
  if (::inet_pton(AF_INET, peer_ip.c_str(), req.id.idiag_src) == 1 &&
      ::inet_pton(AF_INET, our_ip.c_str(), req.id.idiag_dst) == 1) {
    req.sdiag_family = AF_INET;
  } else if (::inet_pton(AF_INET6, peer_ip.c_str(), req.id.idiag_src) == 1 &&
             ::inet_pton(AF_INET6, our_ip.c_str(), req.id.idiag_dst) == 1) {
    req.sdiag_family = AF_INET6;
  } else {
    return std::nullopt;
  }
  int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return std::nullopt;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 body;
  } msg{};
  msg.header.nlmsg_len = sizeof msg;
  msg.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.header.nlmsg_flags = NLM_F_REQUEST;
  msg.body = req;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  std::optional<uid_t> uid;
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::sendto(fd, &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) == sizeof msg) {
    alignas(nlmsghdr) char buf[8192];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); n > 0 && NLMSG_OK(h, static_cast<unsigned>(n));
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) break;
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      auto* found = reinterpret_cast<inet_diag_msg*>(NLMSG_DATA(h));
      uid = found->idiag_uid;
      break;
    }
  }
  ::close(fd);
  return uid;
}

}  // namespace hearth::http
