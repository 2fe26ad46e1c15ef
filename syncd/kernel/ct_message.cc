#include "syncd/kernel/ct_message.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace gwsync::syncd {

// Connlabels travel as the kernel's unsigned long words; on little-endian hosts that is our
// byte layout (bit i in byte i / 8).
static_assert(std::endian::native == std::endian::little, "connlabel layout assumes little endian");

std::string_view opName(CtOp op) {
  switch (op) {
    case CtOp::kCreate: return "create";
    case CtOp::kUpdate: return "update";
    case CtOp::kDelete: return "delete";
  }
  return "?";
}

std::string_view parseErrorName(ParseError e) {
  switch (e) {
    case ParseError::kNotConntrack: return "not_conntrack";
    case ParseError::kTruncated: return "truncated";
    case ParseError::kBadAttribute: return "bad_attribute";
    case ParseError::kMissingTuple: return "missing_tuple";
    case ParseError::kUnsupportedFamily: return "unsupported_family";
    case ParseError::kUnsupportedProtocol: return "unsupported_protocol";
    case ParseError::kCount: break;
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Building

namespace {

void putAddr(nlmsghdr* nlh, uint16_t v4_type, uint16_t v6_type, const IpAddress& a) {
  if (a.family == Family::kIpv4) {
    mnl_attr_put(nlh, v4_type, 4, a.bytes.data());
  } else {
    mnl_attr_put(nlh, v6_type, 16, a.bytes.data());
  }
}

void putTuple(nlmsghdr* nlh, uint16_t type, const Tuple& t) {
  nlattr* tuple = mnl_attr_nest_start(nlh, type);
  nlattr* ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
  putAddr(nlh, CTA_IP_V4_SRC, CTA_IP_V6_SRC, t.src);
  putAddr(nlh, CTA_IP_V4_DST, CTA_IP_V6_DST, t.dst);
  mnl_attr_nest_end(nlh, ip);
  nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
  mnl_attr_put_u8(nlh, CTA_PROTO_NUM, t.proto);
  if (t.proto == l4::kIcmp) {
    mnl_attr_put_u16(nlh, CTA_PROTO_ICMP_ID, htons(t.icmp_id));
    mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_TYPE, t.icmp_type);
    mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_CODE, t.icmp_code);
  } else if (t.proto == l4::kIcmpv6) {
    mnl_attr_put_u16(nlh, CTA_PROTO_ICMPV6_ID, htons(t.icmp_id));
    mnl_attr_put_u8(nlh, CTA_PROTO_ICMPV6_TYPE, t.icmp_type);
    mnl_attr_put_u8(nlh, CTA_PROTO_ICMPV6_CODE, t.icmp_code);
  } else if (hasPorts(t.proto)) {
    mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(t.src_port));
    mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(t.dst_port));
  }
  mnl_attr_nest_end(nlh, proto);
  mnl_attr_nest_end(nlh, tuple);
}

void putNat(nlmsghdr* nlh, uint16_t type, const NatBinding& nat, uint8_t proto) {
  nlattr* nest = mnl_attr_nest_start(nlh, type);
  putAddr(nlh, CTA_NAT_V4_MINIP, CTA_NAT_V6_MINIP, nat.addr);
  putAddr(nlh, CTA_NAT_V4_MAXIP, CTA_NAT_V6_MAXIP, nat.addr);
  if (hasPorts(proto) || (isIcmp(proto) && type == CTA_NAT_SRC)) {
    // A single-port range: the kernel must recreate exactly this binding, not pick another.
    nlattr* p = mnl_attr_nest_start(nlh, CTA_NAT_PROTO);
    mnl_attr_put_u16(nlh, CTA_PROTONAT_PORT_MIN, htons(nat.port));
    mnl_attr_put_u16(nlh, CTA_PROTONAT_PORT_MAX, htons(nat.port));
    mnl_attr_nest_end(nlh, p);
  }
  mnl_attr_nest_end(nlh, nest);
}

void putSeqAdj(nlmsghdr* nlh, uint16_t type, const SeqAdj& a) {
  nlattr* nest = mnl_attr_nest_start(nlh, type);
  mnl_attr_put_u32(nlh, CTA_SEQADJ_CORRECTION_POS, htonl(a.correction_pos));
  mnl_attr_put_u32(nlh, CTA_SEQADJ_OFFSET_BEFORE, htonl(a.offset_before));
  mnl_attr_put_u32(nlh, CTA_SEQADJ_OFFSET_AFTER, htonl(a.offset_after));
  mnl_attr_nest_end(nlh, nest);
}

void putProtoInfo(nlmsghdr* nlh, const Session& s) {
  if (s.tcp) {
    nlattr* info = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
    nlattr* tcp = mnl_attr_nest_start(nlh, CTA_PROTOINFO_TCP);
    mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_STATE, s.tcp->state);
    mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, s.tcp->wscale_orig);
    mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_WSCALE_REPLY, s.tcp->wscale_reply);
    const nf_ct_tcp_flags orig{static_cast<uint8_t>(s.tcp->flags_orig & kTcpFlagsSynced),
                               kTcpFlagsSynced};
    const nf_ct_tcp_flags reply{static_cast<uint8_t>(s.tcp->flags_reply & kTcpFlagsSynced),
                                kTcpFlagsSynced};
    mnl_attr_put(nlh, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, sizeof(orig), &orig);
    mnl_attr_put(nlh, CTA_PROTOINFO_TCP_FLAGS_REPLY, sizeof(reply), &reply);
    mnl_attr_nest_end(nlh, tcp);
    mnl_attr_nest_end(nlh, info);
  } else if (s.sctp) {
    nlattr* info = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
    nlattr* sctp = mnl_attr_nest_start(nlh, CTA_PROTOINFO_SCTP);
    mnl_attr_put_u8(nlh, CTA_PROTOINFO_SCTP_STATE, s.sctp->state);
    mnl_attr_put_u32(nlh, CTA_PROTOINFO_SCTP_VTAG_ORIGINAL, htonl(s.sctp->vtag_orig));
    mnl_attr_put_u32(nlh, CTA_PROTOINFO_SCTP_VTAG_REPLY, htonl(s.sctp->vtag_reply));
    mnl_attr_nest_end(nlh, sctp);
    mnl_attr_nest_end(nlh, info);
  }
}

Tuple untranslatedReply(const Session& s, bool snat, bool dnat) {
  Tuple r = s.reply;
  if (snat) {
    r.dst = s.orig.src;
    r.dst_port = s.orig.src_port;
    if (isIcmp(s.orig.proto)) r.icmp_id = s.orig.icmp_id;
  }
  if (dnat) {
    r.src = s.orig.dst;
    r.src_port = s.orig.dst_port;
  }
  return r;
}

// What an update may change on an existing entry (ctnetlink_change_conntrack refuses NAT,
// helper and master changes).
void putMutable(nlmsghdr* nlh, const Session& s, CtOp op) {
  mnl_attr_put_u32(nlh, CTA_STATUS, htonl((s.status & status::kWritable) | IPS_CONFIRMED));
  // A create needs a timeout (EINVAL without one); a dump reports 0 for an entry in its last
  // second, which must still be copyable.
  if (op == CtOp::kCreate || s.timeout != 0) {
    mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(std::max<uint32_t>(s.timeout, 1)));
  }
  mnl_attr_put_u32(nlh, CTA_MARK, htonl(s.mark));
  putProtoInfo(nlh, s);
  if (s.seq_adj_orig) putSeqAdj(nlh, CTA_SEQ_ADJ_ORIG, *s.seq_adj_orig);
  if (s.seq_adj_reply) putSeqAdj(nlh, CTA_SEQ_ADJ_REPLY, *s.seq_adj_reply);
  if (hasLabels(s)) mnl_attr_put(nlh, CTA_LABELS, s.labels.size(), s.labels.data());
}

}  // namespace

size_t buildRequest(CtOp op, const Session& s, uint32_t seq, bool ack, std::span<uint8_t> buf) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  const uint8_t msg = op == CtOp::kDelete ? IPCTNL_MSG_CT_DELETE : IPCTNL_MSG_CT_NEW;
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg;
  nlh->nlmsg_flags = NLM_F_REQUEST | (ack ? NLM_F_ACK : 0);
  if (op == CtOp::kCreate) nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = static_cast<uint8_t>(s.orig.src.family);
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;

  putTuple(nlh, CTA_TUPLE_ORIG, s.orig);
  if (s.zone != 0) mnl_attr_put_u16(nlh, CTA_ZONE, htons(s.zone));
  if (op == CtOp::kDelete) return nlh->nlmsg_len;

  if (op == CtOp::kCreate) {
    // The kernel sets up NAT itself from CTA_NAT_*: it translates the reply tuple and sets
    // IPS_SRC_NAT/IPS_DST_NAT, which is what makes it rewrite packets. Given an already
    // translated reply tuple it would see nothing to do, leave those bits clear and forward
    // packets untranslated. So the reply tuple goes out as it was before NAT.
    const auto snat = sourceNat(s);
    const auto dnat = destinationNat(s);
    putTuple(nlh, CTA_TUPLE_REPLY, untranslatedReply(s, snat.has_value(), dnat.has_value()));
    if (snat) putNat(nlh, CTA_NAT_SRC, *snat, s.orig.proto);
    if (dnat) putNat(nlh, CTA_NAT_DST, *dnat, s.orig.proto);
    if (!s.helper.empty()) {
      nlattr* help = mnl_attr_nest_start(nlh, CTA_HELP);
      const std::string name = s.helper.substr(0, kMaxHelperName);
      mnl_attr_put_strz(nlh, CTA_HELP_NAME, name.c_str());
      mnl_attr_nest_end(nlh, help);
    }
  }
  putMutable(nlh, s, op);
  return nlh->nlmsg_len;
}

// ---------------------------------------------------------------------------------------------
// Parsing

namespace {

// An attribute table filled by mnl_attr_parse*: known types indexed, unknown ones counted.
template <size_t N>
struct AttrTable {
  std::array<const nlattr*, N + 1> at{};
  uint64_t unknown = 0;

  const nlattr* operator[](size_t type) const { return at[type]; }

  static int collect(const nlattr* attr, void* data) {
    auto* self = static_cast<AttrTable*>(data);
    const uint16_t type = mnl_attr_get_type(attr);
    if (type > N) {
      ++self->unknown;
    } else {
      self->at[type] = attr;
    }
    return MNL_CB_OK;
  }
};

template <size_t N>
bool parseNested(const nlattr* nest, AttrTable<N>& table) {
  return mnl_attr_parse_nested(nest, AttrTable<N>::collect, &table) >= MNL_CB_STOP;
}

bool hasLen(const nlattr* a, size_t len) { return a != nullptr && mnl_attr_get_payload_len(a) == len; }

// Reads a fixed-size attribute; missing is fine (stays 0), a wrong size is a bad attribute.
template <class T>
bool readFixed(const nlattr* a, T& out) {
  if (a == nullptr) return true;
  if (mnl_attr_get_payload_len(a) != sizeof(T)) return false;
  std::memcpy(&out, mnl_attr_get_payload(a), sizeof(T));
  return true;
}

bool readBe16(const nlattr* a, uint16_t& out) {
  uint16_t v = 0;
  if (!readFixed(a, v)) return false;
  out = ntohs(v);
  return true;
}

bool readBe32(const nlattr* a, uint32_t& out) {
  uint32_t v = 0;
  if (!readFixed(a, v)) return false;
  out = ntohl(v);
  return true;
}

struct Parser {
  ParseStats& stats;

  template <size_t N>
  bool nested(const nlattr* nest, AttrTable<N>& table) {
    const bool ok = parseNested(nest, table);
    stats.unknown_attributes += table.unknown;
    return ok;
  }

  std::optional<ParseError> address(const nlattr* v4, const nlattr* v6, IpAddress& out) {
    if (v4 != nullptr) {
      if (!hasLen(v4, 4)) return ParseError::kBadAttribute;
      out.family = Family::kIpv4;
      std::memcpy(out.bytes.data(), mnl_attr_get_payload(v4), 4);
      return std::nullopt;
    }
    if (v6 != nullptr) {
      if (!hasLen(v6, 16)) return ParseError::kBadAttribute;
      out.family = Family::kIpv6;
      std::memcpy(out.bytes.data(), mnl_attr_get_payload(v6), 16);
      return std::nullopt;
    }
    return ParseError::kUnsupportedFamily;
  }

  std::optional<ParseError> tupleProto(const nlattr* nest, Tuple& t) {
    AttrTable<CTA_PROTO_MAX> p;
    if (!nested(nest, p)) return ParseError::kTruncated;
    if (!hasLen(p[CTA_PROTO_NUM], 1)) return ParseError::kBadAttribute;
    t.proto = mnl_attr_get_u8(p[CTA_PROTO_NUM]);
    if (!isSupportedL4(t.proto)) return ParseError::kUnsupportedProtocol;
    bool ok = true;
    if (t.proto == l4::kIcmp) {
      ok = readBe16(p[CTA_PROTO_ICMP_ID], t.icmp_id) && readFixed(p[CTA_PROTO_ICMP_TYPE], t.icmp_type) &&
           readFixed(p[CTA_PROTO_ICMP_CODE], t.icmp_code);
    } else if (t.proto == l4::kIcmpv6) {
      ok = readBe16(p[CTA_PROTO_ICMPV6_ID], t.icmp_id) &&
           readFixed(p[CTA_PROTO_ICMPV6_TYPE], t.icmp_type) &&
           readFixed(p[CTA_PROTO_ICMPV6_CODE], t.icmp_code);
    } else {
      ok = readBe16(p[CTA_PROTO_SRC_PORT], t.src_port) && readBe16(p[CTA_PROTO_DST_PORT], t.dst_port);
    }
    return ok ? std::nullopt : std::optional(ParseError::kBadAttribute);
  }

  std::optional<ParseError> tuple(const nlattr* nest, Tuple& t) {
    if (nest == nullptr) return ParseError::kMissingTuple;
    AttrTable<CTA_TUPLE_MAX> tb;
    if (!nested(nest, tb)) return ParseError::kTruncated;
    if (tb[CTA_TUPLE_IP] == nullptr || tb[CTA_TUPLE_PROTO] == nullptr) {
      return ParseError::kMissingTuple;
    }
    AttrTable<CTA_IP_MAX> ip;
    if (!nested(tb[CTA_TUPLE_IP], ip)) return ParseError::kTruncated;
    if (auto e = address(ip[CTA_IP_V4_SRC], ip[CTA_IP_V6_SRC], t.src)) return e;
    if (auto e = address(ip[CTA_IP_V4_DST], ip[CTA_IP_V6_DST], t.dst)) return e;
    if (t.src.family != t.dst.family) return ParseError::kBadAttribute;
    return tupleProto(tb[CTA_TUPLE_PROTO], t);
  }

  std::optional<ParseError> protoInfo(const nlattr* nest, Session& s) {
    AttrTable<CTA_PROTOINFO_MAX> info;
    if (!nested(nest, info)) return ParseError::kTruncated;
    if (s.orig.proto == l4::kTcp && info[CTA_PROTOINFO_TCP] != nullptr) {
      AttrTable<CTA_PROTOINFO_TCP_MAX> tcp;
      if (!nested(info[CTA_PROTOINFO_TCP], tcp)) return ParseError::kTruncated;
      TcpInfo t;
      nf_ct_tcp_flags fo{}, fr{};
      if (!readFixed(tcp[CTA_PROTOINFO_TCP_STATE], t.state) ||
          !readFixed(tcp[CTA_PROTOINFO_TCP_WSCALE_ORIGINAL], t.wscale_orig) ||
          !readFixed(tcp[CTA_PROTOINFO_TCP_WSCALE_REPLY], t.wscale_reply) ||
          !readFixed(tcp[CTA_PROTOINFO_TCP_FLAGS_ORIGINAL], fo) ||
          !readFixed(tcp[CTA_PROTOINFO_TCP_FLAGS_REPLY], fr)) {
        return ParseError::kBadAttribute;
      }
      t.flags_orig = fo.flags;
      t.flags_reply = fr.flags;
      s.tcp = t;
    } else if (s.orig.proto == l4::kSctp && info[CTA_PROTOINFO_SCTP] != nullptr) {
      AttrTable<CTA_PROTOINFO_SCTP_MAX> sctp;
      if (!nested(info[CTA_PROTOINFO_SCTP], sctp)) return ParseError::kTruncated;
      SctpInfo i;
      if (!readFixed(sctp[CTA_PROTOINFO_SCTP_STATE], i.state) ||
          !readBe32(sctp[CTA_PROTOINFO_SCTP_VTAG_ORIGINAL], i.vtag_orig) ||
          !readBe32(sctp[CTA_PROTOINFO_SCTP_VTAG_REPLY], i.vtag_reply)) {
        return ParseError::kBadAttribute;
      }
      s.sctp = i;
    }
    return std::nullopt;
  }

  std::optional<ParseError> seqAdj(const nlattr* nest, std::optional<SeqAdj>& out) {
    if (nest == nullptr) return std::nullopt;
    AttrTable<CTA_SEQADJ_MAX> tb;
    if (!nested(nest, tb)) return ParseError::kTruncated;
    SeqAdj a;
    if (!readBe32(tb[CTA_SEQADJ_CORRECTION_POS], a.correction_pos) ||
        !readBe32(tb[CTA_SEQADJ_OFFSET_BEFORE], a.offset_before) ||
        !readBe32(tb[CTA_SEQADJ_OFFSET_AFTER], a.offset_after)) {
      return ParseError::kBadAttribute;
    }
    out = a;
    return std::nullopt;
  }

  std::optional<ParseError> helper(const nlattr* nest, Session& s) {
    if (nest == nullptr) return std::nullopt;
    AttrTable<CTA_HELP_MAX> tb;
    if (!nested(nest, tb)) return ParseError::kTruncated;
    if (tb[CTA_HELP_NAME] == nullptr) return std::nullopt;
    if (mnl_attr_validate(tb[CTA_HELP_NAME], MNL_TYPE_NUL_STRING) < 0) {
      return ParseError::kBadAttribute;
    }
    s.helper = mnl_attr_get_str(tb[CTA_HELP_NAME]);
    if (s.helper.size() > kMaxHelperName) return ParseError::kBadAttribute;
    return std::nullopt;
  }

  std::optional<ParseError> scalars(const AttrTable<CTA_MAX>& tb, Session& s) {
    if (!readBe16(tb[CTA_ZONE], s.zone) || !readBe32(tb[CTA_STATUS], s.status) ||
        !readBe32(tb[CTA_TIMEOUT], s.timeout) || !readBe32(tb[CTA_MARK], s.mark)) {
      return ParseError::kBadAttribute;
    }
    if (const nlattr* l = tb[CTA_LABELS]) {
      const size_t len = mnl_attr_get_payload_len(l);
      if (len > s.labels.size()) return ParseError::kBadAttribute;
      std::memcpy(s.labels.data(), mnl_attr_get_payload(l), len);
    }
    return std::nullopt;
  }

  std::optional<ParseError> session(const AttrTable<CTA_MAX>& tb, Session& s) {
    if (auto e = tuple(tb[CTA_TUPLE_ORIG], s.orig)) return e;
    if (auto e = tuple(tb[CTA_TUPLE_REPLY], s.reply)) return e;
    if (s.orig.proto != s.reply.proto || s.orig.src.family != s.reply.src.family) {
      return ParseError::kBadAttribute;
    }
    if (auto e = scalars(tb, s)) return e;
    if (tb[CTA_PROTOINFO] != nullptr) {
      if (auto e = protoInfo(tb[CTA_PROTOINFO], s)) return e;
    }
    if (auto e = seqAdj(tb[CTA_SEQ_ADJ_ORIG], s.seq_adj_orig)) return e;
    if (auto e = seqAdj(tb[CTA_SEQ_ADJ_REPLY], s.seq_adj_reply)) return e;
    return helper(tb[CTA_HELP], s);
  }
};

}  // namespace

CtEventType eventType(const nlmsghdr* nlh) {
  if ((nlh->nlmsg_type & 0xff) == IPCTNL_MSG_CT_DELETE) return CtEventType::kDestroy;
  return (nlh->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL)) != 0 ? CtEventType::kNew
                                                              : CtEventType::kUpdate;
}

Result<Session, ParseError> parseConntrack(const nlmsghdr* nlh, ParseStats& stats) {
  auto reject = [&stats](ParseError e) -> Result<Session, ParseError> {
    stats.count(e);
    return fail(e);
  };
  const uint8_t msg = nlh->nlmsg_type & 0xff;
  if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_CTNETLINK ||
      (msg != IPCTNL_MSG_CT_NEW && msg != IPCTNL_MSG_CT_DELETE)) {
    return reject(ParseError::kNotConntrack);
  }
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nfgenmsg))) return reject(ParseError::kTruncated);
  const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  if (nfg->nfgen_family != AF_INET && nfg->nfgen_family != AF_INET6) {
    return reject(ParseError::kUnsupportedFamily);
  }
  AttrTable<CTA_MAX> tb;
  if (mnl_attr_parse(nlh, sizeof(nfgenmsg), AttrTable<CTA_MAX>::collect, &tb) < MNL_CB_STOP) {
    return reject(ParseError::kTruncated);
  }
  stats.unknown_attributes += tb.unknown;
  Session s;
  if (auto e = Parser{stats}.session(tb, s)) return reject(*e);
  return s;
}

}  // namespace gwsync::syncd
