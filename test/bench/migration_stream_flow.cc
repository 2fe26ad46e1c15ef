#include "test/bench/migration_stream_flow.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "syncd/kernel/netns.h"

namespace gwsync::bench {

namespace {

constexpr uint64_t kFloodBit = 1ull << 63;

int64_t monoNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void sysDie(const std::string& what) { die(what + ": " + std::strerror(errno)); }

int socketIn(const std::string& ns, int type) {
  auto g = syncd::NetnsGuard::enter(ns);
  if (!g) die(g.error());
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) sysDie("socket in " + ns);
  return fd;
}

sockaddr_in sin(uint32_t ip, uint16_t port) {
  sockaddr_in s{};
  s.sin_family = AF_INET;
  s.sin_addr.s_addr = ip;
  s.sin_port = htons(port);
  return s;
}

bool waitReadable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

}  // namespace

Flow::~Flow() {
  stop_ = true;
  if (sender_.joinable()) sender_.join();
  for (int fd : {listen_fd_, server_rx_fd_, client_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

void Flow::start() {
  const int type = c_.tcp ? SOCK_STREAM : SOCK_DGRAM;
  const int on = 1;
  const int big = 16 << 20;
  const sockaddr_in srv = sin(c_.server_ip, c_.server_port);
  listen_fd_ = socketIn(c_.server_ns, type);
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&srv), sizeof(srv)) < 0) sysDie("bind server");
  if (c_.tcp && ::listen(listen_fd_, 4) < 0) sysDie("listen");
  client_fd_ = socketIn(c_.client_ns, type);
  ::setsockopt(client_fd_, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
  if (c_.tcp) ::setsockopt(client_fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  const timeval tv{5, 0};
  ::setsockopt(client_fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (::connect(client_fd_, reinterpret_cast<const sockaddr*>(&srv), sizeof(srv)) < 0) {
    sysDie("connect to the server");
  }
  sockaddr_in local{}, peer{};
  socklen_t len = sizeof(local);
  ::getsockname(client_fd_, reinterpret_cast<sockaddr*>(&local), &len);
  client_ip_ = local.sin_addr.s_addr;
  client_port_ = ntohs(local.sin_port);
  len = sizeof(peer);
  if (c_.tcp) {
    if (!waitReadable(listen_fd_, 5000)) die("the server saw no connection within 5 s");
    server_rx_fd_ = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (server_rx_fd_ < 0) sysDie("accept");
    ::setsockopt(server_rx_fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  } else {
    const Record hello{0, realtimeNs()};
    for (int i = 0; i < 50 && public_port_ == 0; ++i) {
      ::send(client_fd_, &hello, sizeof(hello), 0);
      if (!waitReadable(listen_fd_, 100)) continue;
      Record r{};
      if (::recvfrom(listen_fd_, &r, sizeof(r), 0, reinterpret_cast<sockaddr*>(&peer), &len) > 0) {
        public_port_ = ntohs(peer.sin_port);
      }
    }
    if (public_port_ == 0) die("the server saw no datagram within 5 s");
    server_rx_fd_ = listen_fd_;
    listen_fd_ = -1;
  }
  public_ip_ = peer.sin_addr.s_addr;
  public_port_ = ntohs(peer.sin_port);
  sender_ = std::thread([this] { sendLoop(); });
}

void Flow::sendLoop() {
  uint64_t seq = 1;
  int64_t next = monoNs();
  const int64_t step = int64_t{c_.interval_us} * 1000;
  while (!stop_) {
    if (!paused_) {
      const Record r{seq++, realtimeNs()};
      // TCP: a blocking write, whole records only, so a stall delays the stream, never tears it.
      if (::send(client_fd_, &r, sizeof(r), MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof(r))) ++sent_;
    }
    next += step;
    const int64_t now = monoNs();
    if (next < now) next = now;  // after a stall, carry on at the rate instead of bursting
    const timespec ts{static_cast<time_t>(next / 1000000000), static_cast<long>(next % 1000000000)};
    ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
  }
}

bool Flow::handle(int fd) {
  if (fd == server_rx_fd_) {
    serverRead();
    return true;
  }
  if (fd == client_fd_) {
    clientRead();
    return true;
  }
  return false;
}

void Flow::serverRead() {
  char buf[4096];
  for (;;) {
    sockaddr_in from{};
    socklen_t len = sizeof(from);
    const ssize_t n = ::recvfrom(server_rx_fd_, buf, sizeof(buf), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0) {
      if (n == 0 && c_.tcp) die("the TCP stream was closed");
      return;
    }
    if (c_.tcp) {
      ::send(server_rx_fd_, buf, static_cast<size_t>(n), MSG_NOSIGNAL);
    } else {
      ::sendto(server_rx_fd_, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }
}

void Flow::clientRead() {
  char buf[65536];
  for (;;) {
    const ssize_t n = ::recv(client_fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) return;
    const int64_t now = realtimeNs();
    if (!c_.tcp) {
      if (n != sizeof(Record)) continue;
      Record r{};
      std::memcpy(&r, buf, sizeof(r));
      onEcho(r, now);
      continue;
    }
    client_buf_.append(buf, static_cast<size_t>(n));
    size_t off = 0;
    for (; off + sizeof(Record) <= client_buf_.size(); off += sizeof(Record)) {
      Record r{};
      std::memcpy(&r, client_buf_.data() + off, sizeof(r));
      onEcho(r, now);
    }
    client_buf_.erase(0, off);
  }
}

void Flow::onEcho(const Record& r, int64_t now) {
  if ((r.seq & kFloodBit) != 0) {
    ++flood_rx_;
    if (!flood_first_) flood_first_ = now;
    flood_last_ = now;
    return;
  }
  if (r.seq == 0) return;  // the UDP hello's late echo
  rtt_ns_.push_back(now - r.t_ns);
  if (armed_) echoes_.emplace_back(r.t_ns, now);
}

void Flow::arm(int64_t t_ns) {
  armed_ = t_ns;
  sent_at_arm_ = sent_;
  echoes_.clear();
}

GapStats Flow::gapSince(int64_t armed, int64_t zero) const {
  GapStats g;
  int64_t last = armed;
  for (const auto& [sent, rcvd] : echoes_) {
    if (sent < armed) continue;  // in flight at arm
    g.max_gap_ns = std::max(g.max_gap_ns, rcvd - last);
    last = rcvd;
    ++g.echoed;
    if (zero && !g.first_echo_sent_after && sent >= zero) g.first_echo_sent_after = rcvd;
  }
  g.max_gap_ns = std::max(g.max_gap_ns, realtimeNs() - last);
  g.sent = sent_ - sent_at_arm_;
  return g;
}

std::string Flow::takeRtt() {
  std::vector<int64_t> v;
  v.swap(rtt_ns_);
  if (v.empty()) return "rtt n=0";
  std::sort(v.begin(), v.end());
  auto pct = [&v](double p) {
    return static_cast<long long>(v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))] / 1000);
  };
  return "rtt n=" + std::to_string(v.size()) + " min_us=" + std::to_string(v.front() / 1000) +
         " p50_us=" + std::to_string(pct(0.5)) + " p90_us=" + std::to_string(pct(0.9)) +
         " p99_us=" + std::to_string(pct(0.99));
}

std::string Flow::flood(double seconds) {
  if (c_.tcp) return "flood error=udp_only";
  paused_ = true;
  flood_rx_ = 0;
  flood_first_ = flood_last_ = 0;
  std::atomic<uint64_t> tx{0};
  std::atomic<bool> done{false};
  const sockaddr_in to = sin(public_ip_, public_port_);
  const int64_t t0 = monoNs();
  const auto dur = static_cast<int64_t>(seconds * 1e9);
  std::thread blaster([&] {
    constexpr int kBatch = 64;
    Record recs[kBatch];
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    std::memset(msgs, 0, sizeof(msgs));
    uint64_t seq = kFloodBit;
    while (monoNs() - t0 < dur) {
      for (int i = 0; i < kBatch; ++i) {
        recs[i] = {seq++, 0};
        iov[i] = {&recs[i], sizeof(Record)};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = const_cast<sockaddr_in*>(&to);
        msgs[i].msg_hdr.msg_namelen = sizeof(to);
      }
      const int n = ::sendmmsg(server_rx_fd_, msgs, kBatch, 0);
      if (n > 0) tx += static_cast<uint64_t>(n);
    }
    done = true;
  });
  // Receive until the blaster is done and nothing arrived for 200 ms.
  int64_t quiet_since = 0;
  for (;;) {
    if (waitReadable(client_fd_, 20)) {
      clientRead();
      quiet_since = 0;
      continue;
    }
    if (!done) continue;
    if (!quiet_since) quiet_since = monoNs();
    if (monoNs() - quiet_since > 200000000) break;
  }
  blaster.join();
  paused_ = false;
  rtt_ns_.clear();
  const double rx_s = static_cast<double>(flood_last_ - flood_first_) / 1e9;
  char out[256];
  std::snprintf(out, sizeof(out), "flood sent=%llu received=%llu tx_pps=%.0f rx_pps=%.0f",
                static_cast<unsigned long long>(tx.load()),
                static_cast<unsigned long long>(flood_rx_),
                static_cast<double>(tx.load()) / seconds,
                rx_s > 0 ? static_cast<double>(flood_rx_) / rx_s : 0.0);
  return out;
}

bool Flow::isOriginal(const Frame& f) const {
  return f.proto == (c_.tcp ? IPPROTO_TCP : IPPROTO_UDP) && f.dst == c_.server_ip &&
         f.dport == c_.server_port;
}

bool Flow::isPublicSource(const Frame& f) const {
  return f.src == public_ip_ && f.sport == public_port_;
}

bool Flow::isReply(const Frame& f) const {
  return f.proto == (c_.tcp ? IPPROTO_TCP : IPPROTO_UDP) && f.src == c_.server_ip &&
         f.sport == c_.server_port && f.dst == client_ip_ && f.dport == client_port_;
}

}  // namespace gwsync::bench
