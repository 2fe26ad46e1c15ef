// NetlinkSocket: owns one NETLINK_NETFILTER socket (libmnl), bound and ready.
// Thread: whoever owns it; not shared. Exists so every adapter gets RAII and the same
// buffer-size handling instead of repeating socket set-up.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "syncd/core/result.h"

struct mnl_socket;

namespace gwsync::syncd {

class NetlinkSocket {
 public:
  // Opens and binds a netfilter netlink socket subscribed to `groups` (NF_NETLINK_CONNTRACK_*
  // bits; 0 for a request socket). Errors name the failing call and errno.
  static Result<NetlinkSocket, std::string> open(unsigned groups);

  int fd() const;
  uint32_t portId() const;
  mnl_socket* get() const { return sock_.get(); }

  // Sets SO_RCVBUF/SO_SNDBUF; with force, SO_*BUFFORCE (needs CAP_NET_ADMIN) so the kernel's
  // rmem_max does not cap it. Returns the size the kernel reports afterwards.
  Result<int, std::string> setReceiveBuffer(int bytes, bool force);
  Result<int, std::string> setSendBuffer(int bytes, bool force);
  // Error acks carry only the header of the failed request (NETLINK_CAP_ACK).
  Result<Ok, std::string> capAcks();
  Result<Ok, std::string> setNonBlocking();

 private:
  struct Closer {
    void operator()(mnl_socket* s) const;
  };
  explicit NetlinkSocket(mnl_socket* s) : sock_(s) {}
  std::unique_ptr<mnl_socket, Closer> sock_;
};

}  // namespace gwsync::syncd
