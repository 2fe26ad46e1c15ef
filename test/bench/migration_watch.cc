#include "test/bench/migration_watch.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "syncd/kernel/netns.h"

namespace gwsync::bench {

int64_t realtimeNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void die(const std::string& msg) {
  std::fprintf(stderr, "gwsync-bench-stream: %s\n", msg.c_str());
  std::exit(1);
}

namespace {

syncd::NetnsGuard enter(const std::string& ns) {
  auto g = syncd::NetnsGuard::enter(ns);
  if (!g) die(g.error());
  return std::move(*g);
}

std::string sysError(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

PacketTap::PacketTap(const std::string& ns, const std::string& dev) {
  const auto guard = enter(ns);
  fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd_ < 0) die(sysError("socket(AF_PACKET)"));
  const unsigned idx = ::if_nametoindex(dev.c_str());
  if (idx == 0) die(sysError(ns + ": interface " + dev));
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(idx);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) < 0) die(sysError("bind " + dev));
  const int on = 1;
  if (::setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0) {
    die(sysError("SO_TIMESTAMPNS"));
  }
  const int buf = 8 << 20;
  (void)::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
}

PacketTap::~PacketTap() {
  if (fd_ >= 0) ::close(fd_);
}

void PacketTap::drain(const std::function<void(const Frame&)>& f) {
  std::array<uint8_t, 2048> buf{};
  std::array<char, CMSG_SPACE(sizeof(timespec))> ctrl{};
  for (;;) {
    sockaddr_ll from{};
    iovec iov{buf.data(), buf.size()};
    msghdr mh{};
    mh.msg_name = &from;
    mh.msg_namelen = sizeof(from);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctrl.data();
    mh.msg_controllen = ctrl.size();
    const ssize_t n = ::recvmsg(fd_, &mh, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      die(sysError("recvmsg(AF_PACKET)"));
    }
    Frame fr;
    fr.t_ns = realtimeNs();
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts{};
        std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
        fr.t_ns = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
      }
    }
    fr.outgoing = from.sll_pkttype == PACKET_OUTGOING;
    fr.ethertype = ntohs(from.sll_protocol);
    const size_t len = static_cast<size_t>(n);
    if (fr.ethertype == ETH_P_IP && len >= ETH_HLEN + sizeof(iphdr)) {
      iphdr ip{};
      std::memcpy(&ip, buf.data() + ETH_HLEN, sizeof(ip));
      fr.proto = ip.protocol;
      fr.src = ip.saddr;
      fr.dst = ip.daddr;
      const size_t l4 = ETH_HLEN + ip.ihl * 4u;
      // First fragments only: later ones carry no ports.
      if ((ntohs(ip.frag_off) & 0x1fff) == 0 && len >= l4 + 4) {
        uint16_t ports[2];
        std::memcpy(ports, buf.data() + l4, sizeof(ports));
        fr.sport = ntohs(ports[0]);
        fr.dport = ntohs(ports[1]);
      }
    }
    f(fr);
  }
}

RouteTap::RouteTap(const std::string& ns) {
  const auto guard = enter(ns);
  fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd_ < 0) die(sysError("socket(NETLINK_ROUTE)"));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_IPV4_ROUTE;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) die(sysError("bind rtnetlink"));
}

RouteTap::~RouteTap() {
  if (fd_ >= 0) ::close(fd_);
}

void RouteTap::drain(const std::function<void(uint32_t, uint32_t, int64_t)>& f) {
  alignas(nlmsghdr) std::array<char, 65536> buf{};
  for (;;) {
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      if (errno == ENOBUFS) continue;  // notifications lost: later ones still count
      die(sysError("recv(rtnetlink)"));
    }
    const int64_t t = realtimeNs();
    int len = static_cast<int>(n);
    // NLMSG_OK compares the u32 length with an int: clang's -Wsign-compare; spelled out here.
    const auto ok = [](const nlmsghdr* m, int left) {
      return left >= static_cast<int>(sizeof(nlmsghdr)) && m->nlmsg_len >= sizeof(nlmsghdr) &&
             static_cast<int64_t>(m->nlmsg_len) <= left;
    };
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); ok(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type != RTM_NEWROUTE) continue;
      const auto* rt = static_cast<const rtmsg*>(NLMSG_DATA(h));
      if (rt->rtm_family != AF_INET || rt->rtm_dst_len != 32) continue;
      uint32_t dst = 0, gw = 0;
      int alen = static_cast<int>(RTM_PAYLOAD(h));
      for (auto* a = RTM_RTA(rt); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
        if (a->rta_type == RTA_DST && RTA_PAYLOAD(a) == 4) std::memcpy(&dst, RTA_DATA(a), 4);
        if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == 4) std::memcpy(&gw, RTA_DATA(a), 4);
      }
      f(dst, gw, t);
    }
  }
}

}  // namespace gwsync::bench
