// gwsync-first-packet: waits for the first IPv4 packet with a given source address on an
// interface (either direction) and prints the kernel's receive timestamp of it, in microseconds
// of the realtime clock -- the clock bash's EPOCHREALTIME reads, so a script can subtract its own
// timestamps. The lab's demo times "first packet forwarded by gateway B" with it.
//
//   usage: gwsync-first-packet --dev IFACE --src IPV4 [--timeout-ms N]
//   prints "ready" once capturing, then the timestamp; exit 0, or 1 on timeout, 2 on usage.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "gwsync-first-packet: %s\nusage: gwsync-first-packet --dev IFACE --src IPV4 "
               "[--timeout-ms N]\n",
               why.c_str());
  std::exit(2);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "gwsync-first-packet: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dev;
  in_addr src{};
  bool have_src = false;
  long timeout_ms = 10000;
  for (int i = 1; i < argc; ++i) {
    const std::string opt = argv[i];
    if (i + 1 >= argc) usage("option " + opt + " needs a value");
    const std::string val = argv[++i];
    if (opt == "--dev") {
      dev = val;
    } else if (opt == "--src") {
      if (inet_pton(AF_INET, val.c_str(), &src) != 1) usage("--src: '" + val + "' is no IPv4 address");
      have_src = true;
    } else if (opt == "--timeout-ms") {
      char* end = nullptr;
      timeout_ms = std::strtol(val.c_str(), &end, 10);
      if (end == val.c_str() || *end != '\0' || timeout_ms < 1 || timeout_ms > 600000) {
        usage("--timeout-ms: '" + val + "' is not 1..600000");
      }
    } else {
      usage("unknown option '" + opt + "'");
    }
  }
  if (dev.empty() || !have_src) usage("--dev and --src are required");
  const unsigned ifindex = if_nametoindex(dev.c_str());
  if (ifindex == 0) die("interface " + dev);

  // ETH_P_ALL: packets a device sends reach only the catch-all taps, and gw-b's forwarded
  // packet is one it sends.
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) die("socket(AF_PACKET)");
  const int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0) die("SO_TIMESTAMPNS");
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(ifindex);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) < 0) die("bind " + dev);
  std::printf("ready\n");
  std::fflush(stdout);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  unsigned char frame[2048];
  alignas(cmsghdr) char control[256];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("poll");
    if (r == 0) break;
    iovec iov{frame, sizeof(frame)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("recvmsg");
    // SOCK_RAW on Ethernet: the IPv4 header follows the 14-byte link header.
    if (n < static_cast<ssize_t>(ETH_HLEN + sizeof(iphdr))) continue;
    if (frame[12] != 0x08 || frame[13] != 0x00) continue;  // not IPv4
    iphdr ip{};
    std::memcpy(&ip, frame + ETH_HLEN, sizeof(ip));
    if (ip.version != 4 || ip.saddr != src.s_addr) continue;
    timespec ts{};
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
        std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
      }
    }
    if (ts.tv_sec == 0) clock_gettime(CLOCK_REALTIME, &ts);
    std::printf("%lld\n", static_cast<long long>(ts.tv_sec) * 1000000LL + ts.tv_nsec / 1000);
    return 0;
  }
  std::fprintf(stderr, "gwsync-first-packet: no packet from %s on %s within %ld ms\n",
               inet_ntoa(src), dev.c_str(), timeout_ms);
  return 1;
}
