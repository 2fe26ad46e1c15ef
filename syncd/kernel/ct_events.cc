#include "syncd/kernel/ct_events.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/filter.h>
#include <linux/netfilter/nfnetlink_compat.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <vector>

namespace gwsync::syncd {

namespace {
constexpr size_t kSlot = 16 * 1024;  // one event message is well under 1 KiB
constexpr size_t kSlots = 64;        // datagrams per recvmmsg
// A classic BPF socket filter that drops every message whose nlmsg_pid is one of `ids` (the
// events our own writes cause, which the kernel stamps with the writer's port id), so they are
// never copied to us: at the receiving gateway they were a quarter of the daemon's CPU. Each
// event is its own datagram, so the header at offset 0 is the only one.
Result<Ok, std::string> attachOwnFilter(int fd, const std::vector<uint32_t>& ids) {
  if (ids.empty()) return Ok{};
  if (ids.size() > 200) return fail(std::string("more than 200 port ids to ignore"));
  std::vector<sock_filter> prog;
  prog.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(nlmsghdr, nlmsg_pid)));
  for (size_t i = 0; i < ids.size(); ++i) {
    // Loads are big-endian; the port id is in host order in the header.
    prog.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(ids[i]),
                            static_cast<uint8_t>(ids.size() - i), 0));
  }
  prog.push_back(BPF_STMT(BPF_RET | BPF_K, 0xffffffffu));  // keep
  prog.push_back(BPF_STMT(BPF_RET | BPF_K, 0));            // ours: drop
  const sock_fprog fp{static_cast<unsigned short>(prog.size()), prog.data()};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) < 0) {
    return fail(std::string("SO_ATTACH_FILTER: ") + std::strerror(errno));
  }
  return Ok{};
}

}  // namespace

Result<Ok, std::string> ConntrackEventSource::ignorePortId(uint32_t port_id) {
  options_.ignore_port_ids.push_back(port_id);
  auto r = attachOwnFilter(sock_.fd(), options_.ignore_port_ids);
  stats_.own_filter_in_kernel = r.ok();
  return r;
}

Result<std::unique_ptr<ConntrackEventSource>, std::string> ConntrackEventSource::open(
    boost::asio::io_context& io, Options options, Handlers handlers) {
  auto sock = NetlinkSocket::open(NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_UPDATE |
                                  NF_NETLINK_CONNTRACK_DESTROY);
  if (!sock) return fail("conntrack events: " + sock.error());
  auto size = sock->setReceiveBuffer(options.receive_buffer, options.force_buffer);
  if (!size) return fail("conntrack events: " + size.error());
  if (auto r = sock->setNonBlocking(); !r) return fail("conntrack events: " + r.error());
  // Without the filter the events are still skipped in user space (stats.skipped_own).
  const bool filtered =
      !options.ignore_port_ids.empty() && attachOwnFilter(sock->fd(), options.ignore_port_ids).ok();
  std::unique_ptr<ConntrackEventSource> src(
      new ConntrackEventSource(io, std::move(*sock), std::move(options), std::move(handlers)));
  src->stats_.receive_buffer = *size;
  src->stats_.own_filter_in_kernel = filtered;
  return src;
}

ConntrackEventSource::ConntrackEventSource(boost::asio::io_context& io, NetlinkSocket sock,
                                           Options options, Handlers handlers)
    : sock_(std::move(sock)),
      fd_(io, sock_.fd()),
      options_(std::move(options)),
      handlers_(std::move(handlers)),
      rx_(kSlot * kSlots) {
  batch_.reserve(options_.max_batch);
}

ConntrackEventSource::~ConntrackEventSource() {
  // The fd belongs to the mnl socket: Asio must not close it.
  boost::system::error_code ec;
  fd_.cancel(ec);
  fd_.release();
}

void ConntrackEventSource::start() {
  stopped_ = false;
  arm();
}

void ConntrackEventSource::stop() {
  stopped_ = true;
  boost::system::error_code ec;
  fd_.cancel(ec);
}

void ConntrackEventSource::arm() {
  fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                 [this](const boost::system::error_code& ec) {
                   if (stopped_ || ec == boost::asio::error::operation_aborted) return;
                   if (ec) {
                     // Not reading any more means not syncing: the owner must know.
                     if (handlers_.on_failure) {
                       handlers_.on_failure("conntrack events: wait: " + ec.message());
                     }
                     return;
                   }
                   // A handler may have called stop() while we drained.
                   if (drain() && !stopped_) arm();
                 });
}

bool ConntrackEventSource::drainNow() {
  const uint64_t before = stats_.overruns;
  drain();
  return stats_.overruns == before;
}

bool ConntrackEventSource::drain() {
  mmsghdr msgs[kSlots];
  iovec iov[kSlots];
  for (;;) {
    for (size_t i = 0; i < kSlots; ++i) {
      iov[i] = {rx_.data() + i * kSlot, kSlot};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = recvmmsg(sock_.fd(), msgs, kSlots, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) {
        // The kernel dropped events for us. Deliver what we have first, so the owner's
        // resync starts from a consistent point, then tell it.
        ++stats_.overruns;
        flush();
        if (handlers_.on_overrun) handlers_.on_overrun();
        continue;
      }
      const std::string why = std::string("conntrack events: recvmmsg: ") + std::strerror(errno);
      flush();
      if (handlers_.on_failure) handlers_.on_failure(why);
      return false;
    }
    for (int i = 0; i < n; ++i) handleDatagram(rx_.data() + i * kSlot, msgs[i].msg_len);
    if (static_cast<size_t>(n) < kSlots) break;
  }
  flush();
  return true;
}

void ConntrackEventSource::handleDatagram(const uint8_t* data, size_t len) {
  int remaining = static_cast<int>(len);
  for (auto* nlh = reinterpret_cast<const nlmsghdr*>(data); mnl_nlmsg_ok(nlh, remaining);
       nlh = mnl_nlmsg_next(nlh, &remaining)) {
    if (nlh->nlmsg_type < NLMSG_MIN_TYPE) continue;  // NOOP, ERROR, DONE, OVERRUN
    ++stats_.received;
    const auto& ignore = options_.ignore_port_ids;
    if (nlh->nlmsg_pid != 0 &&
        std::find(ignore.begin(), ignore.end(), nlh->nlmsg_pid) != ignore.end()) {
      ++stats_.skipped_own;
      continue;
    }
    auto s = parseConntrack(nlh, stats_.parse);
    if (!s) continue;
    batch_.push_back(CtEvent{eventType(nlh), std::move(*s)});
    if (batch_.size() >= options_.max_batch) flush();
  }
}

void ConntrackEventSource::flush() {
  if (batch_.empty()) return;
  stats_.delivered += batch_.size();
  if (handlers_.on_events) handlers_.on_events(batch_);
  batch_.clear();
}

}  // namespace gwsync::syncd
