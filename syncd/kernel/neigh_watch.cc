#include "syncd/kernel/neigh_watch.h"

#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace gwsync::syncd {

namespace {

constexpr size_t kBuffer = 64 * 1024;

struct Attrs {
  const nlattr* dst = nullptr;
  const nlattr* lladdr = nullptr;
};

int attrCallback(const nlattr* attr, void* data) {
  auto* attrs = static_cast<Attrs*>(data);
  switch (mnl_attr_get_type(attr)) {
    case NDA_DST: attrs->dst = attr; break;
    case NDA_LLADDR: attrs->lladdr = attr; break;
    default: break;
  }
  return MNL_CB_OK;
}

}  // namespace

void NeighbourWatch::Closer::operator()(mnl_socket* s) const { mnl_socket_close(s); }

Result<std::unique_ptr<NeighbourWatch>, std::string> NeighbourWatch::open(
    boost::asio::io_context& io, const std::vector<std::string>& interfaces, Handlers handlers) {
  std::map<int, std::string> by_index;
  for (const auto& name : interfaces) {
    const unsigned index = name.size() < IFNAMSIZ ? if_nametoindex(name.c_str()) : 0;
    if (index == 0) return fail("neighbour events: interface " + name + ": no such interface");
    by_index[static_cast<int>(index)] = name;
  }
  mnl_socket* raw = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (raw == nullptr) {
    return fail(std::string("neighbour events: mnl_socket_open(NETLINK_ROUTE): ") +
                std::strerror(errno));
  }
  std::unique_ptr<mnl_socket, Closer> guard(raw);
  if (mnl_socket_bind(raw, RTMGRP_NEIGH, MNL_SOCKET_AUTOPID) < 0) {
    return fail(std::string("neighbour events: bind(RTMGRP_NEIGH): ") + std::strerror(errno));
  }
  guard.release();
  return std::unique_ptr<NeighbourWatch>(
      new NeighbourWatch(io, raw, std::move(by_index), std::move(handlers)));
}

NeighbourWatch::NeighbourWatch(boost::asio::io_context& io, mnl_socket* sock,
                               std::map<int, std::string> interfaces, Handlers handlers)
    : sock_(sock),
      fd_(io, mnl_socket_get_fd(sock)),
      interfaces_(std::move(interfaces)),
      handlers_(std::move(handlers)),
      rx_(kBuffer) {}

NeighbourWatch::~NeighbourWatch() {
  // The fd belongs to the mnl socket: Asio must not close it.
  boost::system::error_code ec;
  fd_.cancel(ec);
  fd_.release();
}

void NeighbourWatch::start() {
  stopped_ = false;
  requestDump();
  arm();
}

void NeighbourWatch::requestDump() {
  // The entries that exist already (hosts on the LAN before we started: after a restart, the
  // hosts this gateway owned) come back as RTM_NEWNEIGH and are reported like new ones.
  alignas(nlmsghdr) char buf[256];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETNEIGH;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = 1;
  auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  ndm->ndm_family = AF_UNSPEC;
  if (mnl_socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) < 0) ++stats_.dump_errors;
}

void NeighbourWatch::stop() {
  stopped_ = true;
  boost::system::error_code ec;
  fd_.cancel(ec);
}

void NeighbourWatch::arm() {
  fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                 [this](const boost::system::error_code& ec) {
                   // Checked before touching `this`: aborted waits may outlive the object.
                   if (ec == boost::asio::error::operation_aborted || stopped_) return;
                   if (ec) {
                     if (handlers_.on_failure) handlers_.on_failure("neighbour events: " + ec.message());
                     return;
                   }
                   if (drain() && !stopped_) arm();
                 });
}

bool NeighbourWatch::drain() {
  for (;;) {
    const ssize_t n = recv(mnl_socket_get_fd(sock_.get()), rx_.data(), rx_.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (errno == ENOBUFS) {
        // Lost events only delay detection: the next GARP, RARP or probe reports the host.
        ++stats_.overruns;
        continue;
      }
      const std::string why = std::string("neighbour events: recv: ") + std::strerror(errno);
      if (handlers_.on_failure) handlers_.on_failure(why);
      return false;
    }
    int remaining = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(rx_.data()); mnl_nlmsg_ok(nlh, remaining);
         nlh = mnl_nlmsg_next(nlh, &remaining)) {
      handleMessage(nlh);
      if (stopped_) return false;
    }
  }
}

void NeighbourWatch::handleMessage(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != RTM_NEWNEIGH && nlh->nlmsg_type != RTM_DELNEIGH) return;
  ++stats_.messages;
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ndmsg))) {
    ++stats_.malformed;
    return;
  }
  const auto* ndm = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(nlh));
  const auto iface = interfaces_.find(ndm->ndm_ifindex);
  if (iface == interfaces_.end() || (ndm->ndm_family != AF_INET && ndm->ndm_family != AF_INET6) ||
      (ndm->ndm_flags & NTF_PROXY) != 0) {
    ++stats_.other_interface;
    return;
  }
  Attrs attrs;
  if (mnl_attr_parse(nlh, sizeof(ndmsg), attrCallback, &attrs) < 0 || attrs.dst == nullptr) {
    ++stats_.malformed;
    return;
  }
  IpAddress ip;
  ip.family = ndm->ndm_family == AF_INET ? Family::kIpv4 : Family::kIpv6;
  if (mnl_attr_get_payload_len(attrs.dst) != ip.size()) {
    ++stats_.malformed;
    return;
  }
  std::memcpy(ip.bytes.data(), mnl_attr_get_payload(attrs.dst), ip.size());
  const auto key = std::make_pair(ndm->ndm_ifindex, ip);
  if (nlh->nlmsg_type == RTM_DELNEIGH) {
    ++stats_.deleted;
    known_.erase(key);
    return;
  }
  // No usable address while resolution is pending or has failed, and NOARP entries (multicast,
  // point-to-point) do not name a host on the LAN.
  if ((ndm->ndm_state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP)) != 0 || attrs.lladdr == nullptr) {
    ++stats_.unresolved;
    return;
  }
  if (mnl_attr_get_payload_len(attrs.lladdr) != 6) {
    ++stats_.malformed;
    return;
  }
  const MacAddress mac = MacAddress::fromBytes(static_cast<const uint8_t*>(mnl_attr_get_payload(attrs.lladdr)));
  auto [it, inserted] = known_.try_emplace(key, mac);
  if (!inserted && it->second == mac) {
    ++stats_.unchanged;
    return;
  }
  it->second = mac;
  ++stats_.reported;
  if (handlers_.on_neighbour) handlers_.on_neighbour(NeighbourEvent{iface->second, ip, mac});
}

}  // namespace gwsync::syncd
