// gwsync-bench-host-load: idle sessions of ONE inside host, written into a gateway's conntrack
// table through the batched netlink writer, as if the host had opened them through the gateway's
// PAT: the load of the mobility and failover benchmarks (test/bench/migration_handoff.sh,
// failover_bench.sh). A claim for the host must take every one of them over, so unlike
// `gwsync-ct inject` (many inside addresses, a foreign SNAT address) they all have the host as
// their original source and a public address:port of the gateway's own pool partition.
//
//   gwsync-bench-host-load --netns NS --host IP --server IP --public IP --ports LO-HI
//                          --count N [--proto tcp|udp] [--delete]
//
// Session i: HOST:(10000 + i % 50000) -> SERVER:(443 + i / 50000), translated to
// PUBLIC:(LO + i); TCP ESTABLISHED (or UDP ASSURED) with a one-hour timeout. N <= HI - LO + 1.
// The server ports stay away from the lab's echo server (7000), so the real sessions' tuples
// never clash with these. Prints "created N of N sessions in T s (R/s)"; exit 1 if any failed.
#include <arpa/inet.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "syncd/kernel/ct_writer.h"
#include "syncd/kernel/netns.h"

namespace {

using namespace gwsync::syncd;  // NOLINT(google-build-using-namespace): one-file program

constexpr const char* kUsage =
    "usage: gwsync-bench-host-load --netns NS --host IP --server IP --public IP --ports LO-HI\n"
    "                              --count N [--proto tcp|udp] [--delete]\n";

[[noreturn]] void usageError(const std::string& msg) {
  std::fprintf(stderr, "gwsync-bench-host-load: %s\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

IpAddress v4(const std::string& opt, const std::string& s) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) usageError(opt + ": '" + s + "' is no IPv4 address");
  const auto h = ntohl(a.s_addr);
  return IpAddress::v4(static_cast<uint8_t>(h >> 24), static_cast<uint8_t>(h >> 16),
                       static_cast<uint8_t>(h >> 8), static_cast<uint8_t>(h));
}

long number(const std::string& opt, const std::string& s, long lo, long hi) {
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < lo || v > hi) {
    usageError(opt + ": '" + s + "' is not a number in " + std::to_string(lo) + ".." +
               std::to_string(hi));
  }
  return v;
}

struct Args {
  std::string netns;
  IpAddress host, server, pub;
  long lo = -1, hi = -1, count = -1;
  bool udp = false;
  bool remove = false;
};

Args parse(int argc, char** argv) {
  Args a;
  bool have_host = false, have_server = false, have_public = false;
  for (int i = 1; i < argc; ++i) {
    const std::string opt = argv[i];
    if (opt == "--delete") {
      a.remove = true;
      continue;
    }
    if (opt == "-h" || opt == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usageError("option " + opt + " needs a value");
    const std::string v = argv[++i];
    if (opt == "--netns") {
      a.netns = v;
    } else if (opt == "--host") {
      a.host = v4(opt, v), have_host = true;
    } else if (opt == "--server") {
      a.server = v4(opt, v), have_server = true;
    } else if (opt == "--public") {
      a.pub = v4(opt, v), have_public = true;
    } else if (opt == "--ports") {
      const auto dash = v.find('-');
      if (dash == std::string::npos) usageError("--ports: '" + v + "' is not LO-HI");
      a.lo = number(opt, v.substr(0, dash), 1, 65535);
      a.hi = number(opt, v.substr(dash + 1), a.lo, 65535);
    } else if (opt == "--count") {
      a.count = number(opt, v, 1, 65535);
    } else if (opt == "--proto") {
      if (v != "tcp" && v != "udp") usageError("--proto: '" + v + "' is not tcp or udp");
      a.udp = v == "udp";
    } else {
      usageError("unknown option " + opt);
    }
  }
  if (!have_host || !have_server || !have_public || a.lo < 0 || a.count < 0) {
    usageError("--host, --server, --public, --ports and --count are required");
  }
  if (a.count > a.hi - a.lo + 1) usageError("--count exceeds the ports of --ports");
  return a;
}

Session session(const Args& a, long i) {
  Session s;
  s.orig.proto = s.reply.proto = a.udp ? l4::kUdp : l4::kTcp;
  s.orig.src = a.host;
  s.orig.dst = a.server;
  s.orig.src_port = static_cast<uint16_t>(10000 + i % 50000);
  s.orig.dst_port = static_cast<uint16_t>(443 + i / 50000);
  s.reply = invert(s.orig);
  s.reply.dst = a.pub;
  s.reply.dst_port = static_cast<uint16_t>(a.lo + i);
  s.status = status::kSeenReply | status::kAssured;  // the kernel adds the NAT bits
  s.timeout = 3600;
  if (!a.udp) s.tcp = TcpInfo{.state = 3};  // ESTABLISHED
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  auto ns = NetnsGuard::enter(a.netns);
  if (!ns) {
    std::fprintf(stderr, "gwsync-bench-host-load: %s\n", ns.error().c_str());
    return 1;
  }
  auto writer = ConntrackWriter::open({});
  if (!writer) {
    std::fprintf(stderr, "gwsync-bench-host-load: %s\n", writer.error().c_str());
    return 1;
  }
  std::vector<Session> sessions;
  sessions.reserve(static_cast<size_t>(a.count));
  for (long i = 0; i < a.count; ++i) sessions.push_back(session(a, i));
  std::vector<CtWrite> writes;
  writes.reserve(sessions.size());
  for (const auto& s : sessions) writes.push_back({a.remove ? CtOp::kDelete : CtOp::kCreate, &s});
  const auto t0 = std::chrono::steady_clock::now();
  const auto results = writer->apply(writes);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t failed = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].error == 0) continue;
    if (++failed <= 3) {
      std::fprintf(stderr, "gwsync-bench-host-load: %s\n", describe(sessions[i]).c_str());
    }
  }
  std::printf("%s %zu of %zu sessions in %.3f s (%.0f/s)\n", a.remove ? "deleted" : "created",
              sessions.size() - failed, sessions.size(), secs,
              secs > 0 ? static_cast<double>(sessions.size()) / secs : 0.0);
  return failed == 0 ? 0 : 1;
}
