#include "syncd/kernel/host_routes.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

namespace gwsync::syncd {

namespace {

constexpr size_t kBatchBytes = 64 * 1024;
constexpr size_t kMaxRouteRequest = 128;  // header, rtmsg and four attributes, with room

std::string sysError(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

std::string routeText(const IpAddress& a) {
  return a.toString() + (a.family == Family::kIpv4 ? "/32" : "/128");
}

// Builds RTM_NEWROUTE (create or replace) or RTM_DELROUTE for one host route.
size_t buildRoute(bool add, const IpAddress& dst, int oif, const HostRouteOptions& o,
                  uint32_t seq, uint8_t* buf) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
  nlh->nlmsg_seq = seq;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  const bool v4 = dst.family == Family::kIpv4;
  rtm->rtm_family = v4 ? AF_INET : AF_INET6;
  rtm->rtm_dst_len = v4 ? 32 : 128;
  // Tables above 255 exist only as RTA_TABLE; rtm_table says "see the attribute".
  rtm->rtm_table = o.table < 256 ? static_cast<uint8_t>(o.table)
                                   : static_cast<uint8_t>(RT_TABLE_UNSPEC);
  rtm->rtm_protocol = o.protocol;  // on delete too: the kernel then removes only our route
  // IPv6 has no link scope for routes; `dev X` without a gateway is what makes it on-link.
  rtm->rtm_scope = add && v4 ? RT_SCOPE_LINK : (add ? RT_SCOPE_UNIVERSE : RT_SCOPE_NOWHERE);
  rtm->rtm_type = add ? RTN_UNICAST : RTN_UNSPEC;
  mnl_attr_put_u32(nlh, RTA_TABLE, o.table);
  mnl_attr_put(nlh, RTA_DST, dst.size(), dst.bytes.data());
  if (oif != 0) mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(oif));
  return nlh->nlmsg_len;
}

struct ListState {
  const HostRouteOptions* options;
  std::vector<IpAddress>* out;
};

int onRoute(const nlmsghdr* nlh, void* data) {
  auto* st = static_cast<ListState*>(data);
  if (nlh->nlmsg_type != RTM_NEWROUTE) return MNL_CB_OK;
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(rtmsg))) return MNL_CB_OK;
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  if (rtm->rtm_protocol != st->options->protocol || (rtm->rtm_flags & RTM_F_CLONED) != 0) {
    return MNL_CB_OK;
  }
  const bool v4 = rtm->rtm_family == AF_INET;
  if ((!v4 && rtm->rtm_family != AF_INET6) || rtm->rtm_dst_len != (v4 ? 32 : 128)) {
    return MNL_CB_OK;
  }
  uint32_t table = rtm->rtm_table;
  const nlattr* dst = nullptr;
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  for (auto* attr = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(rtmsg)));
       mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<const char*>(attr)));
       attr = mnl_attr_next(attr)) {
    if (mnl_attr_get_type(attr) == RTA_TABLE && mnl_attr_get_payload_len(attr) == 4) {
      table = mnl_attr_get_u32(attr);
    } else if (mnl_attr_get_type(attr) == RTA_DST) {
      dst = attr;
    }
  }
  if (table != st->options->table || dst == nullptr) return MNL_CB_OK;
  IpAddress a;
  a.family = v4 ? Family::kIpv4 : Family::kIpv6;
  if (mnl_attr_get_payload_len(dst) != a.size()) return MNL_CB_OK;
  std::memcpy(a.bytes.data(), mnl_attr_get_payload(dst), a.size());
  st->out->push_back(a);
  return MNL_CB_OK;
}

}  // namespace

void HostRoutes::Closer::operator()(mnl_socket* s) const { mnl_socket_close(s); }

Result<HostRoutes, std::string> HostRoutes::open(const HostRouteOptions& options) {
  if (options.table == RT_TABLE_UNSPEC || (options.table >= RT_TABLE_DEFAULT &&
                                           options.table <= RT_TABLE_LOCAL)) {
    return fail("host routes: table = " + std::to_string(options.table) +
                " is out of range: use a table of gwsync's own, 1..252 or 256..4294967295 "
                "(0 is unspecified, 253..255 are default, main and local)");
  }
  if (options.protocol <= RTPROT_STATIC) {
    return fail("host routes: protocol = " + std::to_string(options.protocol) +
                " is out of range: use 5..255, a number no other program uses (0..4 are the "
                "kernel's and the administrator's)");
  }
  if (options.device.empty() || options.device.size() >= IFNAMSIZ) {
    return fail("host routes: device = '" + options.device + "' is not an interface name");
  }
  const unsigned ifindex = if_nametoindex(options.device.c_str());
  if (ifindex == 0) {
    return fail("host routes: device = '" + options.device +
                "': unknown device (" + std::strerror(errno) + ")");
  }
  mnl_socket* raw = mnl_socket_open(NETLINK_ROUTE);
  if (raw == nullptr) return fail("host routes: " + sysError("mnl_socket_open(NETLINK_ROUTE)"));
  HostRoutes routes(raw, options, static_cast<int>(ifindex));
  if (mnl_socket_bind(raw, 0, MNL_SOCKET_AUTOPID) < 0) {
    return fail("host routes: " + sysError("mnl_socket_bind"));
  }
  int one = 1;
  // Acks carry only the header of the request; strict checking lets the kernel filter dumps.
  if (mnl_socket_setsockopt(raw, NETLINK_CAP_ACK, &one, sizeof(one)) != 0 ||
      mnl_socket_setsockopt(raw, NETLINK_GET_STRICT_CHK, &one, sizeof(one)) != 0) {
    return fail("host routes: " + sysError("setsockopt(NETLINK_CAP_ACK/GET_STRICT_CHK)"));
  }
  int rcvbuf = 1 << 20;  // every ack of a full batch fits
  setsockopt(mnl_socket_get_fd(raw), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  // The kernel answers inside sendmsg; the timeout only keeps a kernel bug from hanging us.
  timeval tv{5, 0};
  setsockopt(mnl_socket_get_fd(raw), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return routes;
}

HostRoutes::HostRoutes(mnl_socket* sock, HostRouteOptions options, int ifindex)
    : sock_(sock), options_(std::move(options)), ifindex_(ifindex) {
  buf_.resize(kBatchBytes);
  rx_.resize(MNL_SOCKET_BUFFER_SIZE > 64 * 1024 ? MNL_SOCKET_BUFFER_SIZE : 64 * 1024);
}

Result<Ok, std::string> HostRoutes::install(std::span<const IpAddress> hosts) {
  std::vector<Request> requests;
  requests.reserve(hosts.size());
  for (const IpAddress& h : hosts) requests.push_back({h, ifindex_});
  return apply(true, requests);
}

Result<Ok, std::string> HostRoutes::withdraw(std::span<const IpAddress> hosts) {
  std::vector<Request> requests;
  requests.reserve(hosts.size());
  for (const IpAddress& h : hosts) requests.push_back({h, ifindex_});
  return apply(false, requests);
}

Result<size_t, std::string> HostRoutes::flush() {
  auto ours = list();
  if (!ours) return fail(ours.error());
  std::vector<Request> requests;
  // Without a device: a previous run may have used another interface.
  for (const IpAddress& h : *ours) requests.push_back({h, 0});
  if (auto r = apply(false, requests); !r) return fail(r.error());
  return ours->size();
}

Result<Ok, std::string> HostRoutes::apply(bool add, std::span<const Request> requests) {
  const char* verb = add ? "install" : "withdraw";
  size_t failed = 0;
  std::string first;
  std::vector<int> errors;
  size_t pos = 0;
  while (pos < requests.size()) {
    size_t len = 0;
    size_t n = 0;
    const uint32_t first_seq = seq_;
    while (pos + n < requests.size() && len + kMaxRouteRequest <= buf_.size()) {
      const Request& r = requests[pos + n];
      len += buildRoute(add, r.dst, r.oif, options_, seq_++, buf_.data() + len);
      ++n;
    }
    const int batch_error = sendBatch(len, first_seq, n, errors);
    for (size_t k = 0; k < n; ++k) {
      int err = batch_error != 0 ? batch_error : errors[k];
      // A route that is already gone is what withdraw wants (IPv4 and IPv6 say ESRCH).
      if (!add && (err == ESRCH || err == ENOENT)) err = 0;
      if (err == 0) {
        ++(add ? stats_.installed : stats_.withdrawn);
        continue;
      }
      ++stats_.failed;
      if (failed++ == 0) {
        first = std::string(verb) + " " + routeText(requests[pos + k].dst) + " table " +
                std::to_string(options_.table) + " dev " + options_.device + ": " +
                std::strerror(err);
      }
    }
    pos += n;
  }
  if (failed == 0) return Ok{};
  if (failed > 1) first += " (and " + std::to_string(failed - 1) + " more)";
  return fail("host routes: " + first);
}

int HostRoutes::sendBatch(size_t len, uint32_t first_seq, size_t n, std::vector<int>& errors) {
  errors.assign(n, 0);
  ++stats_.batches;
  if (mnl_socket_sendto(sock_.get(), buf_.data(), len) < 0) return errno;
  size_t answered = 0;
  while (answered < n) {
    const ssize_t got = mnl_socket_recvfrom(sock_.get(), rx_.data(), rx_.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno;  // lost acks: no request of the batch is known good
    }
    int remaining = static_cast<int>(got);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(rx_.data()); mnl_nlmsg_ok(nlh, remaining);
         nlh = mnl_nlmsg_next(nlh, &remaining)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) continue;
      const uint32_t idx = nlh->nlmsg_seq - first_seq;
      if (idx >= n) continue;  // a late answer to an earlier batch
      errors[idx] = -static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
      ++answered;
    }
  }
  return 0;
}

Result<std::vector<IpAddress>, std::string> HostRoutes::list() {
  std::vector<IpAddress> out;
  for (const int family : {AF_INET, AF_INET6}) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf_.data());
    nlh->nlmsg_type = RTM_GETROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    const uint32_t seq = seq_++;
    nlh->nlmsg_seq = seq;
    auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
    rtm->rtm_family = static_cast<uint8_t>(family);
    // With strict checking the kernel dumps only this table and protocol; onRoute checks
    // again, so a kernel that ignores the filter only costs a longer dump.
    rtm->rtm_protocol = options_.protocol;
    mnl_attr_put_u32(nlh, RTA_TABLE, options_.table);
    if (mnl_socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) < 0) {
      return fail("host routes: list table " + std::to_string(options_.table) + ": " +
                  sysError("send"));
    }
    ListState st{&options_, &out};
    for (;;) {
      const ssize_t got = mnl_socket_recvfrom(sock_.get(), rx_.data(), rx_.size());
      if (got < 0 && errno == EINTR) continue;
      int r = got < 0 ? MNL_CB_ERROR
                      : mnl_cb_run(rx_.data(), static_cast<size_t>(got), seq,
                                   mnl_socket_get_portid(sock_.get()), onRoute, &st);
      if (r == MNL_CB_STOP) break;
      // A table that was never created has nothing of ours in it.
      if (r < 0 && errno == ENOENT) break;
      if (r < 0) {
        return fail("host routes: list table " + std::to_string(options_.table) + ": " +
                    sysError("dump"));
      }
    }
  }
  return out;
}

}  // namespace gwsync::syncd
