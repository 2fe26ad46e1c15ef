// gwsync-wanem: a WAN emulator for the lab, because this kernel has no netem. Relays Ethernet
// frames between two interfaces of one namespace (AF_PACKET) and impairs them on the way: fixed
// delay, uniform jitter, random loss, duplication and reordering (a share of the frames held back
// longer than the rest), independently per direction, with a seeded RNG. Runs until SIGTERM, then
// prints what it did.
//
//   gwsync-wanem --netns NS --a IF --b IF [--delay-ms D] [--jitter-ms J] [--loss PCT]
//                [--dup PCT] [--reorder PCT] [--reorder-ms R] [--seed S]
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "syncd/kernel/netns.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string netns, a, b;
  double delay_ms = 0, jitter_ms = 0, loss = 0, dup = 0, reorder = 0, reorder_ms = 10;
  uint64_t seed = 1;
};

struct Stats {
  uint64_t in = 0, out = 0, dropped = 0, duplicated = 0, reordered = 0;
};

volatile std::sig_atomic_t g_stop = 0;

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "gwsync-wanem: %s\nusage: gwsync-wanem --netns NS --a IF --b IF [--delay-ms D] "
               "[--jitter-ms J] [--loss PCT] [--dup PCT] [--reorder PCT] [--reorder-ms R] "
               "[--seed S]\n",
               why.c_str());
  std::exit(2);
}

double number(const std::string& opt, const char* v, double max) {
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  if (*v == '\0' || *end != '\0' || !(d >= 0) || d > max) {
    usage(opt + ": '" + v + "' is not a number in 0.." + std::to_string(static_cast<long>(max)));
  }
  return d;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string opt = argv[i];
    if (i + 1 >= argc) usage(opt + " needs a value");
    const char* v = argv[++i];
    if (opt == "--netns") o.netns = v;
    else if (opt == "--a") o.a = v;
    else if (opt == "--b") o.b = v;
    else if (opt == "--delay-ms") o.delay_ms = number(opt, v, 10000);
    else if (opt == "--jitter-ms") o.jitter_ms = number(opt, v, 10000);
    else if (opt == "--loss") o.loss = number(opt, v, 100);
    else if (opt == "--dup") o.dup = number(opt, v, 100);
    else if (opt == "--reorder") o.reorder = number(opt, v, 100);
    else if (opt == "--reorder-ms") o.reorder_ms = number(opt, v, 10000);
    else if (opt == "--seed") o.seed = static_cast<uint64_t>(number(opt, v, 1e15));
    else usage("unknown option " + opt);
  }
  if (o.a.empty() || o.b.empty()) usage("--a and --b are required");
  return o;
}

int openPort(const std::string& ifname) {
  const unsigned idx = if_nametoindex(ifname.c_str());
  if (idx == 0) usage("interface '" + ifname + "' not found");
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) {
    std::perror("gwsync-wanem: socket(AF_PACKET)");
    std::exit(1);
  }
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(idx);
  // Our own transmissions must not come back in as new frames. PACKET_VNET_HDR carries the
  // checksum-offload state along with each frame (a virtio_net_hdr in front of it, on receive
  // and on send): veth leaves TCP checksums for the hardware to fill in, and a frame relayed
  // without that note would arrive with a bad checksum and be dropped.
  int one = 1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) != 0 ||
      setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) != 0 ||
      setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) != 0) {
    std::perror(("gwsync-wanem: " + ifname).c_str());
    std::exit(1);
  }
  return fd;
}

struct Pending {
  int out_fd;
  std::vector<uint8_t> frame;
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  auto ns = gwsync::syncd::NetnsGuard::enter(o.netns);
  if (!ns) usage(ns.error());
  const int fds[2] = {openPort(o.a), openPort(o.b)};
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> pct(0, 100), jitter(0, o.jitter_ms);
  std::multimap<Clock::time_point, Pending> queue;  // release time -> frame
  Stats st;
  std::vector<uint8_t> buf(65536);
  std::printf("relaying %s <-> %s: delay %.1f ms, jitter %.1f ms, loss %.1f %%, dup %.1f %%, "
              "reorder %.1f %% (+%.1f ms)\n",
              o.a.c_str(), o.b.c_str(), o.delay_ms, o.jitter_ms, o.loss, o.dup, o.reorder,
              o.reorder_ms);
  std::fflush(stdout);
  while (!g_stop) {
    const auto now = Clock::now();
    while (!queue.empty() && queue.begin()->first <= now) {
      const Pending& p = queue.begin()->second;
      if (send(p.out_fd, p.frame.data(), p.frame.size(), 0) >= 0) ++st.out;
      queue.erase(queue.begin());
    }
    int timeout = 100;
    if (!queue.empty()) {
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(queue.begin()->first - now);
      timeout = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(wait.count(), 100)));
    }
    pollfd pfd[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    if (poll(pfd, 2, timeout) < 0 && errno != EINTR) break;
    for (int side = 0; side < 2; ++side) {
      if ((pfd[side].revents & POLLIN) == 0) continue;
      const ssize_t n = recv(fds[side], buf.data(), buf.size(), MSG_DONTWAIT);
      if (n <= 0) continue;
      ++st.in;
      if (pct(rng) < o.loss) {
        ++st.dropped;
        continue;
      }
      const int copies = pct(rng) < o.dup ? 2 : 1;
      st.duplicated += copies - 1;
      for (int c = 0; c < copies; ++c) {
        double ms = o.delay_ms + (o.jitter_ms > 0 ? jitter(rng) : 0);
        if (pct(rng) < o.reorder) {
          ms += o.reorder_ms;
          ++st.reordered;
        }
        const auto at = Clock::now() + std::chrono::microseconds(static_cast<int64_t>(ms * 1000));
        queue.emplace(at, Pending{fds[1 - side], std::vector<uint8_t>(buf.begin(), buf.begin() + n)});
      }
    }
  }
  std::printf("frames in %llu out %llu dropped %llu duplicated %llu reordered %llu\n",
              static_cast<unsigned long long>(st.in), static_cast<unsigned long long>(st.out),
              static_cast<unsigned long long>(st.dropped),
              static_cast<unsigned long long>(st.duplicated),
              static_cast<unsigned long long>(st.reordered));
  return 0;
}
