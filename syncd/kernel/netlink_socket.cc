#include "syncd/kernel/netlink_socket.h"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace gwsync::syncd {

namespace {

std::string sysError(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

Result<int, std::string> setBuffer(int fd, int opt, int force_opt, int bytes, bool force) {
  if (force && setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)) == 0) {
    // fall through to read back
  } else if (setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes)) != 0) {
    return fail(sysError(opt == SO_RCVBUF ? "setsockopt(SO_RCVBUF)" : "setsockopt(SO_SNDBUF)"));
  }
  int actual = 0;
  socklen_t len = sizeof(actual);
  if (getsockopt(fd, SOL_SOCKET, opt, &actual, &len) != 0) return fail(sysError("getsockopt"));
  return actual;
}

}  // namespace

void NetlinkSocket::Closer::operator()(mnl_socket* s) const { mnl_socket_close(s); }

Result<NetlinkSocket, std::string> NetlinkSocket::open(unsigned groups) {
  mnl_socket* raw = mnl_socket_open(NETLINK_NETFILTER);
  if (raw == nullptr) return fail(sysError("mnl_socket_open(NETLINK_NETFILTER)"));
  NetlinkSocket sock(raw);
  if (mnl_socket_bind(raw, groups, MNL_SOCKET_AUTOPID) < 0) {
    return fail(sysError("mnl_socket_bind"));
  }
  return sock;
}

int NetlinkSocket::fd() const { return mnl_socket_get_fd(sock_.get()); }

uint32_t NetlinkSocket::portId() const { return mnl_socket_get_portid(sock_.get()); }

Result<int, std::string> NetlinkSocket::setReceiveBuffer(int bytes, bool force) {
  return setBuffer(fd(), SO_RCVBUF, SO_RCVBUFFORCE, bytes, force);
}

Result<int, std::string> NetlinkSocket::setSendBuffer(int bytes, bool force) {
  return setBuffer(fd(), SO_SNDBUF, SO_SNDBUFFORCE, bytes, force);
}

Result<Ok, std::string> NetlinkSocket::capAcks() {
  int one = 1;
  if (mnl_socket_setsockopt(sock_.get(), NETLINK_CAP_ACK, &one, sizeof(one)) != 0) {
    return fail(sysError("setsockopt(NETLINK_CAP_ACK)"));
  }
  return Ok{};
}

Result<Ok, std::string> NetlinkSocket::setNonBlocking() {
  const int flags = fcntl(fd(), F_GETFL);
  if (flags < 0 || fcntl(fd(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return fail(sysError("fcntl(O_NONBLOCK)"));
  }
  return Ok{};
}

}  // namespace gwsync::syncd
