// gwsync-traffic: real TCP and UDP sessions for the lab, the demo and the namespace tests.
// `server` echoes every line with the peer address it saw, so a test can tell whether a NAT
// binding survived a failover; `client` holds N TCP and M UDP sessions open and probes them
// on command from stdin. Single-threaded: main's thread runs the one io_context; the client
// runs it once per step (connect, each probe), so stdin stays a plain blocking read between.
#include <sys/resource.h>
#include <unistd.h>

// clang-format off
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format on

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <list>
#include <optional>
#include <string>
#include <string_view>

#include "syncd/kernel/netns.h"

namespace {

namespace asio = boost::asio;
namespace gs = gwsync::syncd;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;
using std::chrono::milliseconds;

constexpr const char* kUsage =
    "usage: gwsync-traffic server --listen IP:PORT [--netns NAME]\n"
    "       gwsync-traffic client --server IP:PORT --tcp N --udp M [--netns NAME]\n"
    "                             [--timeout-ms MS]\n"
    "server: TCP and UDP echo on one port; answers each line \"TOKEN\" with\n"
    "        \"TOKEN peer=IP:PORT\" (the peer address it sees); runs until SIGTERM/SIGINT\n"
    "client: opens N TCP and M connected UDP sessions, prints \"ready tcp=N udp=M\", then\n"
    "        reads commands from stdin: \"probe\" (a token on every session, one result line)\n"
    "        and \"quit\"\n"
    "IPv6 addresses are written [ADDR]:PORT.\n";

constexpr long kMaxSessions = 50000;
constexpr size_t kMaxLine = 4096;
constexpr int kUdpTries = 5;  // sends per UDP session and probe, spread over the timeout

[[noreturn]] void usageError(const std::string& msg) {
  std::fprintf(stderr, "gwsync-traffic: %s\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "gwsync-traffic: %s\n", msg.c_str());
  std::exit(1);
}

std::optional<long> parseNumber(const std::string& s, long lo, long hi) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  const long v = std::stol(s);
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

struct Endpoint {
  asio::ip::address addr;
  uint16_t port = 0;
};

// "192.0.2.1:7000" or "[2001:db8::1]:7000".
std::optional<Endpoint> parseEndpoint(const std::string& text) {
  std::string host;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) return std::nullopt;  // IPv6 needs brackets
  }
  error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  const auto p = parseNumber(port, 1, 65535);
  if (ec || !p) return std::nullopt;
  return Endpoint{addr, static_cast<uint16_t>(*p)};
}

template <class Ep>
std::string formatPeer(const Ep& ep) {
  auto a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  }
  const std::string host = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
  return host + ":" + std::to_string(ep.port());
}

struct Args {
  std::string cmd;
  std::string netns;
  std::optional<Endpoint> endpoint;  // --listen (server) or --server (client)
  long tcp = -1;
  long udp = -1;
  long timeout_ms = 2000;
};

void applyOption(Args& a, const std::string& opt, const std::string& val) {
  const bool server = a.cmd == "server";
  if (opt == "--netns") {
    if (val.empty()) usageError("--netns: empty namespace name");
    a.netns = val;
  } else if (opt == (server ? "--listen" : "--server")) {
    a.endpoint = parseEndpoint(val);
    if (!a.endpoint) {
      usageError(opt + ": '" + val + "' is not IP:PORT (port 1..65535, IPv6 as [ADDR]:PORT)");
    }
  } else if (!server && (opt == "--tcp" || opt == "--udp")) {
    const auto v = parseNumber(val, 0, kMaxSessions);
    if (!v) usageError(opt + ": '" + val + "' is not a count 0.." + std::to_string(kMaxSessions));
    (opt == "--tcp" ? a.tcp : a.udp) = *v;
  } else if (!server && opt == "--timeout-ms") {
    const auto v = parseNumber(val, 1, 600000);
    if (!v) usageError("--timeout-ms: '" + val + "' is not 1..600000");
    a.timeout_ms = *v;
  } else {
    usageError("unknown option " + opt + " for " + a.cmd);
  }
}

Args parseArgs(int argc, char** argv) {
  if (argc < 2) usageError("missing command (server or client)");
  Args a;
  a.cmd = argv[1];
  if (a.cmd == "-h" || a.cmd == "--help") {
    std::fputs(kUsage, stdout);
    std::exit(0);
  }
  if (a.cmd != "server" && a.cmd != "client") usageError("unknown command '" + a.cmd + "'");
  for (int i = 2; i < argc; ++i) {
    const std::string opt = argv[i];
    if (i + 1 >= argc) usageError("option " + opt + " needs a value");
    applyOption(a, opt, argv[++i]);
  }
  const bool server = a.cmd == "server";
  if (!a.endpoint)
    usageError(server ? "server needs --listen IP:PORT" : "client needs --server IP:PORT");
  if (!server && a.tcp < 0) usageError("client needs --tcp N");
  if (!server && a.udp < 0) usageError("client needs --udp M");
  return a;
}

gs::NetnsGuard enterNetns(const std::string& name) {
  auto guard = gs::NetnsGuard::enter(name);
  if (!guard) die(guard.error());
  return std::move(guard).value();
}

// Every session is a socket: lift the soft fd limit to the hard one; returns the soft limit.
rlim_t raiseFdLimit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur != rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl.rlim_cur;
}

std::string echoLine(std::string_view token, const std::string& peer) {
  if (!token.empty() && token.back() == '\r') token.remove_suffix(1);
  return std::string(token) + " peer=" + peer + "\n";
}

// A reply is "TOKEN peer=IP:PORT"; another probe's token or anything else is not ours.
bool matchReply(std::string_view line, std::string_view token, std::string& peer) {
  constexpr std::string_view kSep = " peer=";
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.size() <= token.size() + kSep.size() || line.substr(0, token.size()) != token ||
      line.substr(token.size(), kSep.size()) != kSep) {
    return false;
  }
  peer = std::string(line.substr(token.size() + kSep.size()));
  return true;
}

// EchoServer: owns the TCP listener, the UDP socket on the same port and every accepted
// connection; runs on main's io_context. stop() closes them all, so every coroutine ends and
// run() returns.
class EchoServer {
 public:
  explicit EchoServer(asio::io_context& io) : io_(io), acceptor_(io), udp_(io) {}

  gs::Result<gs::Ok, std::string> open(const Endpoint& ep) {
    const tcp::endpoint tep(ep.addr, ep.port);
    const std::string where = "--listen " + formatPeer(tep);
    error_code ec;
    acceptor_.open(tep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(tep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return gs::fail(where + ": TCP: " + ec.message());
    const udp::endpoint uep(ep.addr, ep.port);
    udp_.open(uep.protocol(), ec);
    if (!ec) udp_.bind(uep, ec);
    if (ec) return gs::fail(where + ": UDP: " + ec.message());
    return gs::Ok{};
  }

  void start() {
    asio::co_spawn(io_, acceptLoop(), asio::detached);
    asio::co_spawn(io_, udpLoop(), asio::detached);
  }

  void stop() {
    stopping_ = true;
    error_code ec;
    acceptor_.close(ec);
    udp_.close(ec);
    for (auto& c : conns_) c.close(ec);
  }

 private:
  asio::awaitable<void> acceptLoop() {
    asio::steady_timer backoff(io_);
    for (;;) {
      error_code ec;
      tcp::socket sock =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      if (ec) {  // e.g. out of fds: say so, and do not spin on the error
        std::fprintf(stderr, "gwsync-traffic: accept: %s\n", ec.message().c_str());
        backoff.expires_after(milliseconds(100));
        co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      sock.set_option(tcp::no_delay(true), ec);
      conns_.push_front(std::move(sock));
      asio::co_spawn(io_, serveTcp(conns_.begin()), asio::detached);
    }
  }

  asio::awaitable<void> serveTcp(std::list<tcp::socket>::iterator it) {
    tcp::socket& sock = *it;
    error_code ec;
    const auto remote = sock.remote_endpoint(ec);
    const std::string peer = ec ? std::string("?") : formatPeer(remote);
    std::string rx;
    while (!ec) {
      const size_t n =
          co_await asio::async_read_until(sock, asio::dynamic_buffer(rx, kMaxLine), '\n',
                                          asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      const std::string reply = echoLine(std::string_view(rx).substr(0, n - 1), peer);
      rx.erase(0, n);
      co_await asio::async_write(sock, asio::buffer(reply),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    conns_.erase(it);
  }

  asio::awaitable<void> udpLoop() {
    std::array<char, 2048> buf{};
    for (;;) {
      error_code ec;
      udp::endpoint from;
      const size_t n = co_await udp_.async_receive_from(
          asio::buffer(buf), from, asio::redirect_error(asio::use_awaitable, ec));
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      if (ec) continue;  // a transient receive error; the client retries
      std::string_view dgram(buf.data(), n);
      dgram = dgram.substr(0, dgram.find('\n'));
      const std::string reply = echoLine(dgram, formatPeer(from));
      co_await udp_.async_send_to(asio::buffer(reply), from,
                                  asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  udp::socket udp_;
  std::list<tcp::socket> conns_;  // stable iterators: each connection's coroutine erases its own
  bool stopping_ = false;
};

int runServer(const Args& a) {
  const auto netns = enterNetns(a.netns);  // held for the whole run: every socket lives there
  raiseFdLimit();  // best effort: the client side decides how many sessions there are
  asio::io_context io;
  EchoServer server(io);
  if (auto r = server.open(*a.endpoint); !r) die(r.error());
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&server](const error_code& ec, int) {
    if (!ec) server.stop();
  });
  server.start();
  std::printf("listening %s tcp+udp\n",
              formatPeer(tcp::endpoint(a.endpoint->addr, a.endpoint->port)).c_str());
  std::fflush(stdout);
  io.run();
  return 0;
}

struct TcpSession {
  explicit TcpSession(asio::io_context& io) : sock(io) {}
  tcp::socket sock;
  std::string rx;          // bytes after the last complete line
  bool broken = false;     // RST, EOF or a failed write: failed from then on
  std::string first_peer;  // what the server saw at this session's first successful probe
};

struct UdpSession {
  explicit UdpSession(asio::io_context& io) : sock(io), retry(io) {}
  udp::socket sock;
  asio::steady_timer retry;
  uint64_t attempt = 0;  // lets a late retry timer see that its attempt is over
  std::string first_peer;
};

struct ProbeResult {
  long tcp_ok = 0, tcp_fail = 0, udp_ok = 0, udp_fail = 0, same_peer = 0, changed_peer = 0;
};

// TrafficClient: owns the client's sessions and the per-step deadline. Runs on main's thread,
// which runs the io_context once per step; a step's coroutines all end before run() returns.
class TrafficClient {
 public:
  TrafficClient(asio::io_context& io, const Args& a)
      : io_(io),
        deadline_(io),
        server_(a.endpoint->addr, a.endpoint->port),
        timeout_(a.timeout_ms),
        tcp_count_(a.tcp),
        udp_count_(a.udp) {}

  gs::Result<gs::Ok, std::string> connect() {
    error_code ec;
    for (long i = 0; i < tcp_count_ && !ec; ++i) {
      tcp_.emplace_back(io_).sock.open(server_.protocol(), ec);
    }
    if (ec) return gs::fail("TCP socket: " + ec.message());
    const udp::endpoint uep(server_.address(), server_.port());
    for (long i = 0; i < udp_count_ && !ec; ++i) {
      auto& s = udp_.emplace_back(io_);
      s.sock.open(uep.protocol(), ec);
      if (!ec) s.sock.connect(uep, ec);
    }
    if (ec) return gs::fail("UDP session to " + formatPeer(uep) + ": " + ec.message());
    for (auto& s : tcp_) asio::co_spawn(io_, connectOne(s), asio::detached);
    runStep(tcp_count_);
    if (connected_ < tcp_count_) {
      return gs::fail("connected " + std::to_string(connected_) + " of " +
                      std::to_string(tcp_count_) + " TCP sessions to " + formatPeer(server_) +
                      " within " + std::to_string(timeout_.count()) + " ms (" + first_error_ + ")");
    }
    return gs::Ok{};
  }

  ProbeResult probe() {
    result_ = {};
    const std::string prefix = std::to_string(::getpid()) + "." + std::to_string(++probe_seq_);
    long spawned = 0;
    for (size_t i = 0; i < tcp_.size(); ++i) {
      if (tcp_[i].broken) {
        ++result_.tcp_fail;
        continue;
      }
      asio::co_spawn(io_, probeTcp(tcp_[i], prefix + ".t" + std::to_string(i)), asio::detached);
      ++spawned;
    }
    for (size_t i = 0; i < udp_.size(); ++i) {
      asio::co_spawn(io_, probeUdp(udp_[i], prefix + ".u" + std::to_string(i)), asio::detached);
      ++spawned;
    }
    runStep(spawned);
    return result_;
  }

 private:
  // Runs the io_context until `count` coroutines called finishOne() or the timeout cancels
  // whatever is still pending.
  void runStep(long count) {
    if (count == 0) return;
    outstanding_ = count;
    timed_out_ = false;
    deadline_.expires_after(timeout_);
    deadline_.async_wait([this](const error_code& ec) {
      if (!ec) cancelAll();
    });
    io_.restart();
    io_.run();
  }

  void cancelAll() {
    timed_out_ = true;
    error_code ec;
    for (auto& s : tcp_) s.sock.cancel(ec);
    for (auto& s : udp_) {
      s.retry.cancel();
      s.sock.cancel(ec);
    }
  }

  void finishOne() {
    if (--outstanding_ == 0) deadline_.cancel();
  }

  void record(bool ok, bool is_tcp, std::string& first_peer, const std::string& peer) {
    if (!ok) {
      ++(is_tcp ? result_.tcp_fail : result_.udp_fail);
      return;
    }
    ++(is_tcp ? result_.tcp_ok : result_.udp_ok);
    if (first_peer.empty()) first_peer = peer;
    ++(first_peer == peer ? result_.same_peer : result_.changed_peer);
  }

  asio::awaitable<void> connectOne(TcpSession& s) {
    error_code ec;
    co_await s.sock.async_connect(server_, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      ++connected_;
      s.sock.set_option(tcp::no_delay(true), ec);
    } else if (first_error_.empty()) {
      first_error_ = ec == asio::error::operation_aborted ? "timed out" : ec.message();
    }
    finishOne();
  }

  asio::awaitable<void> probeTcp(TcpSession& s, std::string token) {
    error_code ec;
    const std::string msg = token + "\n";
    co_await asio::async_write(s.sock, asio::buffer(msg),
                               asio::redirect_error(asio::use_awaitable, ec));
    // A write cut short leaves the stream off its line boundaries: the session is done.
    if (ec) s.broken = true;
    bool ok = false;
    std::string peer;
    while (!s.broken && !ok && !timed_out_) {
      const size_t n =
          co_await asio::async_read_until(s.sock, asio::dynamic_buffer(s.rx, kMaxLine), '\n',
                                          asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted) break;  // the deadline
      if (ec) {
        s.broken = true;
        break;
      }
      ok = matchReply(std::string_view(s.rx).substr(0, n), token, peer);
      s.rx.erase(0, n);  // an older probe's late echo is dropped here
    }
    record(ok, true, s.first_peer, peer);
    finishOne();
  }

  asio::awaitable<void> probeUdp(UdpSession& s, std::string token) {
    const auto interval = std::max(timeout_ / kUdpTries, milliseconds(20));
    const std::string msg = token + "\n";
    std::array<char, 2048> buf{};
    bool ok = false;
    std::string peer;
    while (!ok && !timed_out_) {
      const uint64_t attempt = ++s.attempt;
      error_code ec;
      co_await s.sock.async_send(asio::buffer(msg), asio::redirect_error(asio::use_awaitable, ec));
      s.retry.expires_after(interval);
      s.retry.async_wait([&s, attempt](const error_code& e) {
        error_code ignored;
        if (!e && s.attempt == attempt) s.sock.cancel(ignored);
      });
      while (!ok && !timed_out_) {
        const size_t n = co_await s.sock.async_receive(
            asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted) break;  // resend, unless the deadline passed
        // Other errors are ICMP reports queued on the socket (e.g. refused): keep listening.
        if (!ec) ok = matchReply(std::string_view(buf.data(), n), token, peer);
      }
    }
    ++s.attempt;
    s.retry.cancel();
    record(ok, false, s.first_peer, peer);
    finishOne();
  }

  asio::io_context& io_;
  asio::steady_timer deadline_;
  tcp::endpoint server_;
  milliseconds timeout_;
  long tcp_count_;
  long udp_count_;
  std::deque<TcpSession> tcp_;  // deque: references stay valid while coroutines hold them
  std::deque<UdpSession> udp_;
  long outstanding_ = 0;
  bool timed_out_ = false;
  long connected_ = 0;
  std::string first_error_;
  uint64_t probe_seq_ = 0;
  ProbeResult result_;
};

int runClient(const Args& a) {
  const auto netns = enterNetns(a.netns);  // held for the whole run: every socket lives there
  const rlim_t need = static_cast<rlim_t>(a.tcp + a.udp) + 64;
  if (const rlim_t have = raiseFdLimit(); have != RLIM_INFINITY && have < need) {
    die("--tcp/--udp: " + std::to_string(a.tcp + a.udp) + " sessions need " + std::to_string(need) +
        " file descriptors, the limit is " + std::to_string(have));
  }
  asio::io_context io;
  TrafficClient client(io, a);
  if (auto r = client.connect(); !r) die(r.error());
  std::printf("ready tcp=%ld udp=%ld\n", a.tcp, a.udp);
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (line.empty()) continue;
    if (line == "quit") break;
    if (line != "probe") {
      std::fprintf(stderr, "gwsync-traffic: unknown command '%s' (expected probe or quit)\n",
                   line.c_str());
      continue;
    }
    const ProbeResult r = client.probe();
    std::printf(
        "probe tcp_ok=%ld tcp_fail=%ld udp_ok=%ld udp_fail=%ld same_peer=%ld changed_peer=%ld\n",
        r.tcp_ok, r.tcp_fail, r.udp_ok, r.udp_fail, r.same_peer, r.changed_peer);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parseArgs(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);  // a peer's RST must show up as EPIPE, not kill the tool
  return a.cmd == "server" ? runServer(a) : runClient(a);
}
