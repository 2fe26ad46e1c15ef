// gwsync-announce: the frames a hypervisor sends for a VM right after a live migration, sent
// from the VM's own interface in the lab. ESXi sends a RARP request (ethertype 0x8035) for the
// VM's MAC so the physical switches learn the port; guests and other hypervisors send a
// gratuitous ARP. Both are broadcasts that gwsyncd's detection sees on a gateway's LAN interface.
// Run it inside the VM's namespace (ip netns exec NS gwsync-announce ...). Needs CAP_NET_RAW.
#include <arpa/inet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/if_ether.h>
#include <netpacket/packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr const char* kUsage =
    "usage: gwsync-announce --dev IF [--rarp] [--garp IPV4]... [--count N]\n"
    "--rarp       a RARP request (ethertype 0x8035, opcode 3) for IF's own MAC, as ESXi sends\n"
    "             after vMotion\n"
    "--garp IPV4  a gratuitous ARP request (sender = target = IPV4) from IF's MAC\n"
    "--count N    send each frame N times (default 1, at most 10)\n"
    "Frames go to the broadcast address. Exit 0 sent, 1 socket error, 2 usage error.\n";

constexpr uint16_t kEthPRarp = 0x8035;
constexpr uint16_t kArpOpRequest = 1;
constexpr uint16_t kRarpOpRequest = 3;

[[noreturn]] void usageError(const std::string& msg) {
  std::fprintf(stderr, "gwsync-announce: %s\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "gwsync-announce: %s: %s\n", msg.c_str(), std::strerror(errno));
  std::exit(1);
}

// The ARP payload for Ethernet/IPv4 (RFC 826; RARP, RFC 903, uses the same layout).
struct __attribute__((packed)) ArpPayload {
  uint16_t htype;
  uint16_t ptype;
  uint8_t hlen;
  uint8_t plen;
  uint16_t op;
  std::array<uint8_t, ETH_ALEN> sha;
  uint32_t spa;
  std::array<uint8_t, ETH_ALEN> tha;
  uint32_t tpa;
};
static_assert(sizeof(ArpPayload) == 28);

struct Args {
  std::string dev;
  bool rarp = false;
  std::vector<in_addr> garp;
  int count = 1;
};

Args parseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string opt = argv[i];
    if (opt == "-h" || opt == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (opt == "--rarp") {
      a.rarp = true;
      continue;
    }
    if (i + 1 >= argc) usageError("option " + opt + " needs a value");
    const std::string val = argv[++i];
    if (opt == "--dev") {
      if (val.empty() || val.size() >= IFNAMSIZ) usageError("--dev: '" + val + "' is no interface name");
      a.dev = val;
    } else if (opt == "--garp") {
      in_addr addr{};
      if (inet_pton(AF_INET, val.c_str(), &addr) != 1) usageError("--garp: '" + val + "' is no IPv4 address");
      a.garp.push_back(addr);
    } else if (opt == "--count") {
      if (val.size() != 1 && val != "10") usageError("--count: '" + val + "' is not 1..10");
      a.count = std::atoi(val.c_str());
      if (a.count < 1) usageError("--count: '" + val + "' is not 1..10");
    } else {
      usageError("unknown option " + opt);
    }
  }
  if (a.dev.empty()) usageError("--dev is required");
  if (!a.rarp && a.garp.empty()) usageError("nothing to send: give --rarp and/or --garp");
  return a;
}

class PacketSocket {
 public:
  explicit PacketSocket(const std::string& dev) : fd_(::socket(AF_PACKET, SOCK_DGRAM, 0)) {
    if (fd_ < 0) die("socket(AF_PACKET)");
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, dev.c_str(), dev.size());
    if (::ioctl(fd_, SIOCGIFINDEX, &ifr) < 0) die("interface " + dev);
    ifindex_ = ifr.ifr_ifindex;
    if (::ioctl(fd_, SIOCGIFHWADDR, &ifr) < 0) die("MAC address of " + dev);
    if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
      errno = EINVAL;
      die(dev + " is not an Ethernet interface");
    }
    std::memcpy(mac_.data(), ifr.ifr_hwaddr.sa_data, ETH_ALEN);
  }
  PacketSocket(const PacketSocket&) = delete;
  PacketSocket& operator=(const PacketSocket&) = delete;
  ~PacketSocket() { ::close(fd_); }

  const std::array<uint8_t, ETH_ALEN>& mac() const { return mac_; }

  // The kernel builds the Ethernet header from the address: broadcast, our MAC, ethertype.
  void sendBroadcast(uint16_t ethertype, const ArpPayload& payload) const {
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_protocol = htons(ethertype);
    to.sll_ifindex = ifindex_;
    to.sll_halen = ETH_ALEN;
    std::memset(to.sll_addr, 0xff, ETH_ALEN);
    const ssize_t n = ::sendto(fd_, &payload, sizeof(payload), 0,
                               reinterpret_cast<const sockaddr*>(&to), sizeof(to));
    if (n != static_cast<ssize_t>(sizeof(payload))) die("sendto");
  }

 private:
  int fd_;
  int ifindex_ = 0;
  std::array<uint8_t, ETH_ALEN> mac_{};
};

ArpPayload arpPayload(uint16_t op, const std::array<uint8_t, ETH_ALEN>& mac) {
  ArpPayload p{};
  p.htype = htons(ARPHRD_ETHER);
  p.ptype = htons(ETHERTYPE_IP);
  p.hlen = ETH_ALEN;
  p.plen = 4;
  p.op = htons(op);
  p.sha = mac;
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parseArgs(argc, argv);
  const PacketSocket sock(a.dev);
  for (int i = 0; i < a.count; ++i) {
    if (a.rarp) {
      // "Who am I": sender and target hardware address are our own, protocol addresses unknown.
      ArpPayload p = arpPayload(kRarpOpRequest, sock.mac());
      p.tha = sock.mac();
      sock.sendBroadcast(kEthPRarp, p);
    }
    for (const in_addr& ip : a.garp) {
      ArpPayload p = arpPayload(kArpOpRequest, sock.mac());
      p.spa = ip.s_addr;
      p.tpa = ip.s_addr;
      sock.sendBroadcast(ETHERTYPE_ARP, p);
    }
  }
  return 0;
}
