// gwsync-bench-stream: one continuous flow through the lab's gateways, and the clock of the
// mobility and failover benchmarks (migration_handoff.sh, failover_bench.sh, redirect_bench.sh).
//
// An echo server in --server-ns and a client in --client-ns; the client sends a 16-byte record
// (sequence number, send time) every --interval-us over UDP or TCP (TCP_NODELAY) and takes each
// echo's round trip. Optional observation points, all timestamped on one clock (CLOCK_REALTIME,
// the kernel's receive time for frames):
//   --rarp NS:IF   the first RARP frame (ethertype 0x8035) arriving on IF after `arm`: time zero
//                  (without it, time zero is the `arm` command)
//   --fwd NS:IF    the first packet of the flow's original direction leaving IF: "with state"
//                  when its source is the public IP:port the server saw before (the gateway used
//                  the synced entry), "new" otherwise (it made a new binding)
//   --reply NS:IF  the first packet of the reply direction (server -> client) leaving IF
//   --route NAME=NS:ADDR[:VIA]  the first IPv4 route to ADDR/32 [via VIA] added in NS
// Commands on stdin, one per line, answers on stdout:
//   arm          clears the observations, starts the clock           -> "armed"
//   report       waits until every observation happened (or --deadline-ms after arm)
//                -> "RESULT k=v ..." (ms after time zero, "-" when not seen; gap_ms: the longest
//                   pause between two echoes at the client since arm)
//   rtt          -> "rtt n=.. p50_us=.. p90_us=.. p99_us=.." over the echoes since the last rtt
//   flood SECS   (UDP) pauses the stream; the server sends to the client's public IP:port as fast
//                as it can for SECS -> "flood sent=.. received=.. tx_pps=.. rx_pps=.."
//   quit
// Prints "ready public=IP:PORT client=IP:PORT" once the server has seen the flow.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "syncd/kernel/netns.h"
#include "test/bench/migration_stream_flow.h"
#include "test/bench/migration_watch.h"

namespace gb = gwsync::bench;

namespace {

constexpr const char* kUsage =
    "usage: gwsync-bench-stream --client-ns NS --server-ns NS --server IP:PORT [--proto udp|tcp]\n"
    "         [--interval-us N] [--rarp NS:IF] [--fwd NS:IF] [--reply NS:IF]\n"
    "         [--route NAME=NS:ADDR[:VIA]]... [--deadline-ms D]\n";

[[noreturn]] void usageError(const std::string& m) {
  std::fprintf(stderr, "gwsync-bench-stream: %s\n%s", m.c_str(), kUsage);
  std::exit(2);
}

std::pair<std::string, std::string> split(const std::string& s, char c, const std::string& opt) {
  const auto p = s.find(c);
  if (p == std::string::npos) usageError(opt + ": '" + s + "' lacks '" + c + "'");
  return {s.substr(0, p), s.substr(p + 1)};
}

uint32_t ipv4(const std::string& s, const std::string& opt) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) usageError(opt + ": '" + s + "' is no IPv4 address");
  return a.s_addr;
}

struct RouteWatch {
  std::string name;
  uint32_t dst = 0, via = 0;
  std::unique_ptr<gb::RouteTap> tap;
  int64_t seen = 0;
};

struct Args {
  gb::FlowConfig flow;
  std::string rarp, fwd, reply;
  std::vector<std::pair<std::string, std::string>> routes;  // name, NS:ADDR[:VIA]
  int deadline_ms = 10000;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string opt = argv[i];
    if (opt == "-h" || opt == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usageError("option " + opt + " needs a value");
    const std::string v = argv[++i];
    if (opt == "--client-ns") {
      a.flow.client_ns = v;
    } else if (opt == "--server-ns") {
      a.flow.server_ns = v;
    } else if (opt == "--server") {
      const auto [ip, port] = split(v, ':', opt);
      a.flow.server_ip = ipv4(ip, opt);
      a.flow.server_port = static_cast<uint16_t>(std::stoi(port));
    } else if (opt == "--proto") {
      if (v != "udp" && v != "tcp") usageError("--proto: udp or tcp");
      a.flow.tcp = v == "tcp";
    } else if (opt == "--interval-us") {
      a.flow.interval_us = std::max(50, std::stoi(v));
    } else if (opt == "--rarp") {
      a.rarp = v;
    } else if (opt == "--fwd") {
      a.fwd = v;
    } else if (opt == "--reply") {
      a.reply = v;
    } else if (opt == "--route") {
      a.routes.push_back(split(v, '=', opt));
    } else if (opt == "--deadline-ms") {
      a.deadline_ms = std::stoi(v);
    } else {
      usageError("unknown option " + opt);
    }
  }
  if (a.flow.client_ns.empty() || a.flow.server_ns.empty() || a.flow.server_port == 0) {
    usageError("--client-ns, --server-ns and --server are required");
  }
  return a;
}

std::string ms(int64_t t, int64_t zero) {
  if (t == 0 || zero == 0) return "-";
  char b[32];
  std::snprintf(b, sizeof(b), "%.3f", static_cast<double>(t - zero) / 1e6);
  return b;
}

std::string addr(uint32_t ip, uint16_t port) {
  char b[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &ip, b, sizeof(b));
  return std::string(b) + ":" + std::to_string(port);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  gb::Flow flow(a.flow);
  std::unique_ptr<gb::PacketTap> rarp, fwd, reply;
  auto tapOf = [](const std::string& spec) {
    const auto [ns, dev] = split(spec, ':', "tap");
    return std::make_unique<gb::PacketTap>(ns, dev);
  };
  if (!a.rarp.empty()) rarp = tapOf(a.rarp);
  if (!a.fwd.empty()) fwd = tapOf(a.fwd);
  if (!a.reply.empty()) reply = tapOf(a.reply);
  std::vector<RouteWatch> routes;
  for (const auto& [name, spec] : a.routes) {
    RouteWatch w;
    w.name = name;
    const auto [ns, rest] = split(spec, ':', "--route");
    const auto p = rest.find(':');
    w.dst = ipv4(rest.substr(0, p), "--route");
    if (p != std::string::npos) w.via = ipv4(rest.substr(p + 1), "--route");
    w.tap = std::make_unique<gb::RouteTap>(ns);
    routes.push_back(std::move(w));
  }
  flow.start();
  std::printf("ready public=%s client=%s\n", addr(flow.publicIp(), flow.publicPort()).c_str(),
              addr(flow.clientIp(), flow.clientPort()).c_str());
  std::fflush(stdout);

  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  auto watch = [ep](int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) gb::die("epoll_ctl");
  };
  watch(0);
  for (int fd : flow.fds()) watch(fd);
  for (auto* t : {rarp.get(), fwd.get(), reply.get()}) {
    if (t) watch(t->fd());
  }
  for (const auto& r : routes) watch(r.tap->fd());

  int64_t armed = 0, t_rarp = 0, t_fwd = 0, t_fwd_new = 0, t_reply = 0;
  uint16_t new_port = 0;
  bool report_pending = false;
  std::string line_buf;
  auto complete = [&] {
    bool all = (!rarp || t_rarp) && (!fwd || t_fwd) && (!reply || t_reply);
    for (const auto& r : routes) all = all && r.seen != 0;
    return all;
  };
  for (;;) {
    if (report_pending &&
        (complete() || gb::realtimeNs() - armed > int64_t{a.deadline_ms} * 1000000)) {
      const int64_t zero = rarp ? t_rarp : armed;
      std::string out = "RESULT zero=" + std::string(rarp ? "rarp" : "arm") +
                        " rarp_after_arm_ms=" + ms(t_rarp, armed) + " fwd_ms=" + ms(t_fwd, zero) +
                        " fwd_new_ms=" + ms(t_fwd_new, zero) +
                        " new_port=" + std::to_string(new_port) + " reply_ms=" + ms(t_reply, zero);
      for (const auto& r : routes) out += " route_" + r.name + "_ms=" + ms(r.seen, zero);
      const auto g = flow.gapSince(armed, zero);
      out += " first_echo_ms=" + ms(g.first_echo_sent_after, zero) +
             " gap_ms=" + ms(g.max_gap_ns + 1, 1) + " sent=" + std::to_string(g.sent) +
             " echoed=" + std::to_string(g.echoed);
      std::printf("%s\n", out.c_str());
      std::fflush(stdout);
      report_pending = false;
    }
    epoll_event evs[16];
    const int n = ::epoll_wait(ep, evs, 16, 5);
    for (int i = 0; i < n; ++i) {
      const int fd = evs[i].data.fd;
      if (fd == 0) {
        char b[256];
        const ssize_t r = ::read(0, b, sizeof(b));
        if (r <= 0) return 0;
        line_buf.append(b, static_cast<size_t>(r));
        size_t nl;
        while ((nl = line_buf.find('\n')) != std::string::npos) {
          const std::string cmd = line_buf.substr(0, nl);
          line_buf.erase(0, nl + 1);
          if (cmd == "quit") return 0;
          if (cmd == "arm") {
            armed = gb::realtimeNs();
            t_rarp = t_fwd = t_fwd_new = t_reply = 0;
            new_port = 0;
            for (auto& r : routes) r.seen = 0;
            flow.arm(armed);
            std::printf("armed\n");
          } else if (cmd == "report") {
            report_pending = armed != 0;
            if (!report_pending) std::printf("RESULT error=not_armed\n");
          } else if (cmd == "rtt") {
            std::printf("%s\n", flow.takeRtt().c_str());
          } else if (cmd.rfind("flood ", 0) == 0) {
            std::printf("%s\n", flow.flood(std::stod(cmd.substr(6))).c_str());
          } else if (!cmd.empty()) {
            std::fprintf(stderr, "gwsync-bench-stream: unknown command '%s'\n", cmd.c_str());
          }
          std::fflush(stdout);
        }
        continue;
      }
      if (flow.handle(fd)) continue;
      if (rarp && fd == rarp->fd()) {
        rarp->drain([&](const gb::Frame& f) {
          if (armed && !t_rarp && !f.outgoing && f.ethertype == 0x8035 && f.t_ns >= armed) t_rarp = f.t_ns;
        });
      } else if (fwd && fd == fwd->fd()) {
        fwd->drain([&](const gb::Frame& f) {
          if (!armed || !f.outgoing || !flow.isOriginal(f) || f.t_ns < armed) return;
          if (flow.isPublicSource(f)) {
            if (!t_fwd) t_fwd = f.t_ns;
          } else if (!t_fwd_new) {
            t_fwd_new = f.t_ns;
            new_port = f.sport;
          }
        });
      } else if (reply && fd == reply->fd()) {
        reply->drain([&](const gb::Frame& f) {
          if (armed && !t_reply && f.outgoing && flow.isReply(f) && f.t_ns >= armed) t_reply = f.t_ns;
        });
      } else {
        for (auto& r : routes) {
          if (fd != r.tap->fd()) continue;
          r.tap->drain([&](uint32_t dst, uint32_t gw, int64_t t) {
            if (armed && !r.seen && dst == r.dst && (r.via == 0 || gw == r.via)) r.seen = t;
          });
        }
      }
    }
  }
}
