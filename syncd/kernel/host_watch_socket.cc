#include "syncd/kernel/host_watch_socket.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netpacket/packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace gwsync::syncd {

namespace {

// arp or rarp or (ip6 and icmp6 type 135/136 right after the fixed header). ND never carries
// extension headers (RFC 4861 hop limit 255, no fragmentation), so offset 54 is the type.
// The frame starts at the Ethernet header (SOCK_RAW), without VLAN tag (the kernel strips it).
constexpr sock_filter kFilter[] = {
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),           // 0: ethertype
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0806, 7, 0),  // 1: ARP -> accept
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x8035, 6, 0),  // 2: RARP -> accept
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x86dd, 0, 6),  // 3: IPv6, else drop
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 20),           // 4: next header
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, 4),      // 5: ICMPv6, else drop
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 54),           // 6: ICMPv6 type
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 135, 1, 0),     // 7: NS -> accept
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 136, 0, 1),     // 8: NA -> accept, else drop
    BPF_STMT(BPF_RET | BPF_K, 0xffff),                // 9: accept
    BPF_STMT(BPF_RET | BPF_K, 0),                     // 10: drop
};

std::string sysError(const std::string& interface, const char* what) {
  return "interface " + interface + ": " + what + ": " + std::strerror(errno);
}

}  // namespace

Result<HostWatchSocket, std::string> HostWatchSocket::open(const std::string& interface) {
  if (interface.empty() || interface.size() >= IFNAMSIZ) {
    return fail("interface '" + interface + "': not a valid interface name");
  }
  const unsigned index = if_nametoindex(interface.c_str());
  if (index == 0) return fail("interface " + interface + ": no such interface");
  // Protocol 0: the socket receives nothing until bind(), so no frame of another interface or
  // one the filter would drop can be queued before both are in place.
  const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(sysError(interface, "socket(AF_PACKET)"));
  HostWatchSocket sock(fd, static_cast<int>(index), interface);

  ifreq ifr{};
  std::memcpy(ifr.ifr_name, interface.c_str(), interface.size());
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) return fail(sysError(interface, "SIOCGIFHWADDR"));
  if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    return fail("interface " + interface + ": not an Ethernet interface");
  }
  const sock_fprog prog{.len = static_cast<unsigned short>(std::size(kFilter)),
                        .filter = const_cast<sock_filter*>(kFilter)};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0) {
    return fail(sysError(interface, "setsockopt(SO_ATTACH_FILTER)"));
  }
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);  // all: the probe's answer to the macvlan's MAC too
  addr.sll_ifindex = static_cast<int>(index);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return fail(sysError(interface, "bind(AF_PACKET)"));
  }
  return sock;
}

HostWatchSocket::HostWatchSocket(HostWatchSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      ifindex_(other.ifindex_),
      interface_(std::move(other.interface_)) {}

HostWatchSocket::~HostWatchSocket() {
  if (fd_ >= 0) ::close(fd_);
}

HostWatchSocket::Read HostWatchSocket::read(std::span<uint8_t> buffer, size_t& length) {
  for (;;) {
    sockaddr_ll from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n = recvfrom(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT,
                               reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Read::kEmpty;
      return Read::kError;
    }
    length = static_cast<size_t>(n);
    return from.sll_pkttype == PACKET_OUTGOING ? Read::kOutgoing : Read::kFrame;
  }
}

Result<Ok, std::string> HostWatchSocket::send(std::span<const uint8_t> frame) {
  if (frame.size() < ETH_HLEN) return fail("interface " + interface_ + ": frame too short");
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = ifindex_;
  std::memcpy(&to.sll_protocol, frame.data() + 12, sizeof(to.sll_protocol));  // both big-endian
  to.sll_halen = ETH_ALEN;
  std::memcpy(to.sll_addr, frame.data(), ETH_ALEN);
  for (;;) {
    const ssize_t n = sendto(fd_, frame.data(), frame.size(), MSG_DONTWAIT,
                             reinterpret_cast<const sockaddr*>(&to), sizeof(to));
    if (n >= 0) return Ok{};
    if (errno != EINTR) return fail(sysError(interface_, "sendto"));
  }
}

}  // namespace gwsync::syncd
