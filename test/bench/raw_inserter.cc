#include "test/bench/raw_inserter.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_compat.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>

#include <cerrno>
#include <vector>

namespace gwsync::bench {

namespace {

constexpr size_t kMaxMessage = 512;  // a TCP create with SNAT is ~200 bytes

void putTuple(nlmsghdr* nlh, uint16_t type, uint32_t src, uint32_t dst, uint16_t sport,
              uint16_t dport) {
  nlattr* tuple = mnl_attr_nest_start(nlh, type);
  nlattr* ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
  mnl_attr_put_u32(nlh, CTA_IP_V4_SRC, src);
  mnl_attr_put_u32(nlh, CTA_IP_V4_DST, dst);
  mnl_attr_nest_end(nlh, ip);
  nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
  mnl_attr_put_u8(nlh, CTA_PROTO_NUM, IPPROTO_TCP);
  mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(sport));
  mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(dport));
  mnl_attr_nest_end(nlh, proto);
  mnl_attr_nest_end(nlh, tuple);
}

void putSnat(nlmsghdr* nlh, uint32_t addr, uint16_t port) {
  nlattr* nat = mnl_attr_nest_start(nlh, CTA_NAT_SRC);
  mnl_attr_put_u32(nlh, CTA_NAT_V4_MINIP, addr);
  mnl_attr_put_u32(nlh, CTA_NAT_V4_MAXIP, addr);
  nlattr* proto = mnl_attr_nest_start(nlh, CTA_NAT_PROTO);
  mnl_attr_put_u16(nlh, CTA_PROTONAT_PORT_MIN, htons(port));
  mnl_attr_put_u16(nlh, CTA_PROTONAT_PORT_MAX, htons(port));
  mnl_attr_nest_end(nlh, proto);
  mnl_attr_nest_end(nlh, nat);
}

size_t putCreate(void* buf, const RawTcpEntry& e, uint32_t seq) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_INET;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  putTuple(nlh, CTA_TUPLE_ORIG, e.src, e.dst, e.sport, e.dport);
  if (e.snat_addr != 0) {
    putTuple(nlh, CTA_TUPLE_REPLY, e.dst, e.snat_addr, e.dport, e.snat_port);
    putSnat(nlh, e.snat_addr, e.snat_port);
  } else {
    putTuple(nlh, CTA_TUPLE_REPLY, e.dst, e.src, e.dport, e.sport);
  }
  mnl_attr_put_u32(nlh, CTA_STATUS, htonl(IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED));
  mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(kRawTimeoutSeconds));
  nlattr* info = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
  nlattr* tcp = mnl_attr_nest_start(nlh, CTA_PROTOINFO_TCP);
  mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_STATE, kRawTcpEstablished);
  mnl_attr_nest_end(nlh, tcp);
  mnl_attr_nest_end(nlh, info);
  return nlh->nlmsg_len;
}

// One table for every nesting level: nested types are all below CTA_MAX.
int collect(const nlattr* attr, void* data) {
  if (mnl_attr_type_valid(attr, CTA_MAX) > 0) {
    static_cast<const nlattr**>(data)[mnl_attr_get_type(attr)] = attr;
  }
  return MNL_CB_OK;
}

bool tupleDigest(const nlattr* nest, uint64_t& digest) {
  const nlattr* tb[CTA_MAX + 1] = {};
  const nlattr* ip[CTA_MAX + 1] = {};
  const nlattr* proto[CTA_MAX + 1] = {};
  if (nest == nullptr || mnl_attr_parse_nested(nest, collect, tb) < 0 ||
      tb[CTA_TUPLE_IP] == nullptr || tb[CTA_TUPLE_PROTO] == nullptr ||
      mnl_attr_parse_nested(tb[CTA_TUPLE_IP], collect, ip) < 0 ||
      mnl_attr_parse_nested(tb[CTA_TUPLE_PROTO], collect, proto) < 0 ||
      ip[CTA_IP_V4_SRC] == nullptr || ip[CTA_IP_V4_DST] == nullptr ||
      proto[CTA_PROTO_SRC_PORT] == nullptr || proto[CTA_PROTO_DST_PORT] == nullptr) {
    return false;
  }
  digest += rawTupleDigest(mnl_attr_get_u32(ip[CTA_IP_V4_SRC]), mnl_attr_get_u32(ip[CTA_IP_V4_DST]),
                           ntohs(mnl_attr_get_u16(proto[CTA_PROTO_SRC_PORT])),
                           ntohs(mnl_attr_get_u16(proto[CTA_PROTO_DST_PORT])));
  return true;
}

int onEvent(const nlmsghdr* nlh, void* data) {
  auto* counts = static_cast<RawEventCounts*>(data);
  const nlattr* tb[CTA_MAX + 1] = {};
  uint64_t digest = 0;
  if ((nlh->nlmsg_type & 0xff) == IPCTNL_MSG_CT_NEW && (nlh->nlmsg_flags & NLM_F_CREATE) != 0 &&
      mnl_attr_parse(nlh, sizeof(nfgenmsg), collect, tb) >= 0 &&
      tupleDigest(tb[CTA_TUPLE_ORIG], digest) && tupleDigest(tb[CTA_TUPLE_REPLY], digest)) {
    ++counts->news;
    counts->digest += digest;
  } else {
    ++counts->other;
  }
  return MNL_CB_OK;
}

}  // namespace

mnl_socket* rawOpenRequestSocket(size_t batch_bytes) {
  mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl == nullptr) return nullptr;
  const int sndbuf = static_cast<int>(batch_bytes) * 2;
  const int rcvbuf = 8 * 1024 * 1024;  // every ack of one batch
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
      setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0 ||
      setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0) {
    mnl_socket_close(nl);
    return nullptr;
  }
  return nl;
}

RawInsertResult rawInsert(mnl_socket* nl, const RawTcpEntry* entries, size_t n,
                          size_t batch_bytes) {
  RawInsertResult r{};
  std::vector<char> buf(batch_bytes);
  char ack[MNL_SOCKET_BUFFER_SIZE];
  uint32_t seq = 0;
  size_t i = 0;
  while (i < n) {
    size_t len = 0;
    size_t pending = 0;
    while (i < n && len + kMaxMessage <= batch_bytes) {
      len += putCreate(buf.data() + len, entries[i++], ++seq);
      ++pending;
    }
    if (mnl_socket_sendto(nl, buf.data(), len) < 0) {
      r.sock_error = errno;
      return r;
    }
    while (pending > 0) {  // one ack per request, each its own datagram
      const ssize_t got = mnl_socket_recvfrom(nl, ack, sizeof(ack));
      if (got < 0) {
        r.sock_error = errno;
        return r;
      }
      int left = static_cast<int>(got);
      for (auto* nlh = reinterpret_cast<const nlmsghdr*>(ack); mnl_nlmsg_ok(nlh, left);
           nlh = mnl_nlmsg_next(nlh, &left)) {
        if (nlh->nlmsg_type != NLMSG_ERROR) continue;
        const int err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
        if (err == 0) {
          ++r.acked;
        } else if (r.failed++ == 0) {
          r.first_error = -err;
        }
        --pending;
      }
    }
  }
  return r;
}

mnl_socket* rawOpenEventSocket(int receive_buffer) {
  mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl == nullptr) return nullptr;
  const unsigned groups =
      NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_UPDATE | NF_NETLINK_CONNTRACK_DESTROY;
  if (mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0 ||
      setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer,
                 sizeof(receive_buffer)) < 0) {
    mnl_socket_close(nl);
    return nullptr;
  }
  return nl;
}

RawEventCounts rawDrainEvents(mnl_socket* nl) {
  RawEventCounts counts{};
  char buf[MNL_SOCKET_BUFFER_SIZE];
  for (;;) {
    const ssize_t got = recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT);
    if (got < 0) {
      if (errno == ENOBUFS) ++counts.overruns;
      if (errno == ENOBUFS || errno == EINTR) continue;
      return counts;  // EAGAIN: empty
    }
    mnl_cb_run(buf, got, 0, 0, onEvent, &counts);
  }
}

}  // namespace gwsync::bench
