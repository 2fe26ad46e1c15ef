// The ctnetlink codec without a kernel: a create request carries the same attributes as the
// kernel's own messages, so parse(build(s)) must give s back; malformed input must be rejected
// with a reason and never crash.
#include "syncd/kernel/ct_message.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include <algorithm>
#include <map>
#include <vector>

namespace gwsync::syncd {
namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

Session tcpSnat() {
  Session s;
  s.orig = {.src = ip("192.0.2.10"), .dst = ip("203.0.113.10"), .proto = l4::kTcp,
            .src_port = 40000, .dst_port = 443};
  s.reply = {.src = ip("203.0.113.10"), .dst = ip("198.51.100.100"), .proto = l4::kTcp,
             .src_port = 443, .dst_port = 61000};
  s.status = status::kSeenReply | status::kAssured;
  s.timeout = 300;
  s.mark = 0x42;
  s.tcp = TcpInfo{.state = 3, .flags_orig = 0x03, .flags_reply = 0x01, .wscale_orig = 7,
                  .wscale_reply = 8};
  return s;
}

Session roundTrip(const Session& s, ParseStats& st) {
  std::vector<uint8_t> buf(kMaxRequestSize);
  const size_t len = buildRequest(CtOp::kCreate, s, 7, true, buf);
  EXPECT_LE(len, kMaxRequestSize);
  auto parsed = parseConntrack(reinterpret_cast<const nlmsghdr*>(buf.data()), st);
  EXPECT_TRUE(parsed.ok());
  return parsed.ok() ? *parsed : Session{};
}

// What a create request carries: status gains IPS_CONFIRMED and keeps only writable bits, and
// the reply tuple goes out untranslated (the kernel applies the NAT ranges to it itself).
Session expected(Session s) {
  s.status = (s.status & status::kWritable) | status::kConfirmed;
  s.timeout = std::max<uint32_t>(s.timeout, 1);  // the kernel refuses a create without one
  if (sourceNat(s)) {
    s.reply.dst = s.orig.src;
    s.reply.dst_port = s.orig.src_port;
    if (isIcmp(s.orig.proto)) s.reply.icmp_id = s.orig.icmp_id;
  }
  if (destinationNat(s)) {
    s.reply.src = s.orig.dst;
    s.reply.src_port = s.orig.dst_port;
  }
  s.owner = 0;
  s.version = 0;
  return s;
}

TEST(CtMessage, TcpWithSnatRoundTrips) {
  ParseStats st;
  const Session s = tcpSnat();
  EXPECT_EQ(roundTrip(s, st), expected(s));
  EXPECT_EQ(st.unknown_attributes, 0u);
}

TEST(CtMessage, CreateCarriesNatUpdateDoesNot) {
  std::vector<uint8_t> buf(kMaxRequestSize);
  const Session s = tcpSnat();
  auto has = [&](CtOp op, uint16_t type) {
    buildRequest(op, s, 1, false, buf);
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
    bool found = false;
    std::pair<uint16_t, bool*> want{type, &found};
    mnl_attr_parse(
        nlh, sizeof(nfgenmsg),
        [](const nlattr* a, void* data) {
          auto* want = static_cast<std::pair<uint16_t, bool*>*>(data);
          if (mnl_attr_get_type(a) == want->first) *want->second = true;
          return MNL_CB_OK;
        },
        &want);
    return found;
  };
  EXPECT_TRUE(has(CtOp::kCreate, CTA_NAT_SRC));
  EXPECT_FALSE(has(CtOp::kCreate, CTA_NAT_DST));
  EXPECT_FALSE(has(CtOp::kUpdate, CTA_NAT_SRC));
  EXPECT_FALSE(has(CtOp::kUpdate, CTA_TUPLE_REPLY));
  EXPECT_TRUE(has(CtOp::kUpdate, CTA_TUPLE_ORIG));
  EXPECT_TRUE(has(CtOp::kDelete, CTA_TUPLE_ORIG));
  EXPECT_FALSE(has(CtOp::kDelete, CTA_STATUS));
}

// The NAT range of a create is a single address and port: exactly the session's binding.
TEST(CtMessage, CreateNatRangeIsTheSessionsBinding) {
  std::vector<uint8_t> buf(kMaxRequestSize);
  buildRequest(CtOp::kCreate, tcpSnat(), 1, false, buf);
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
  struct Found {
    uint32_t min_ip = 0, max_ip = 0;
    uint16_t min_port = 0, max_port = 0;
  } found;
  // Collects the children of a nest by type.
  using Children = std::map<uint16_t, const nlattr*>;
  auto children = [](const nlattr* nest) {
    Children c;
    mnl_attr_parse_nested(
        nest,
        [](const nlattr* a, void* data) {
          (*static_cast<Children*>(data))[mnl_attr_get_type(a)] = a;
          return MNL_CB_OK;
        },
        &c);
    return c;
  };
  Children top;
  mnl_attr_parse(
      nlh, sizeof(nfgenmsg),
      [](const nlattr* a, void* data) {
        (*static_cast<Children*>(data))[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
      },
      &top);
  ASSERT_TRUE(top.count(CTA_NAT_SRC));
  Children nat = children(top[CTA_NAT_SRC]);
  ASSERT_TRUE(nat.count(CTA_NAT_V4_MINIP) && nat.count(CTA_NAT_V4_MAXIP) && nat.count(CTA_NAT_PROTO));
  found.min_ip = mnl_attr_get_u32(nat[CTA_NAT_V4_MINIP]);
  found.max_ip = mnl_attr_get_u32(nat[CTA_NAT_V4_MAXIP]);
  Children ports = children(nat[CTA_NAT_PROTO]);
  ASSERT_TRUE(ports.count(CTA_PROTONAT_PORT_MIN) && ports.count(CTA_PROTONAT_PORT_MAX));
  found.min_port = ntohs(mnl_attr_get_u16(ports[CTA_PROTONAT_PORT_MIN]));
  found.max_port = ntohs(mnl_attr_get_u16(ports[CTA_PROTONAT_PORT_MAX]));
  uint32_t want_ip;
  inet_pton(AF_INET, "198.51.100.100", &want_ip);
  EXPECT_EQ(found.min_ip, want_ip);
  EXPECT_EQ(found.max_ip, want_ip);
  EXPECT_EQ(found.min_port, 61000);
  EXPECT_EQ(found.max_port, 61000);
}

TEST(CtMessage, FlagsAndTypes) {
  std::vector<uint8_t> buf(kMaxRequestSize);
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
  buildRequest(CtOp::kCreate, tcpSnat(), 9, true, buf);
  EXPECT_EQ(nlh->nlmsg_type, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW);
  EXPECT_EQ(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  EXPECT_EQ(nlh->nlmsg_seq, 9u);
  buildRequest(CtOp::kUpdate, tcpSnat(), 10, false, buf);
  EXPECT_EQ(nlh->nlmsg_flags, NLM_F_REQUEST);
  buildRequest(CtOp::kDelete, tcpSnat(), 11, true, buf);
  EXPECT_EQ(nlh->nlmsg_type, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE);
  EXPECT_EQ(eventType(nlh), CtEventType::kDestroy);
}

TEST(CtMessage, EveryProtocolRoundTrips) {
  ParseStats st;
  for (uint8_t proto : {l4::kTcp, l4::kUdp, l4::kUdpLite, l4::kSctp, l4::kGre, l4::kDccp}) {
    Session s;
    s.orig = {.src = ip("192.0.2.1"), .dst = ip("198.51.100.1"), .proto = proto,
              .src_port = 1000, .dst_port = 2000};
    s.reply = invert(s.orig);
    if (proto == l4::kSctp) s.sctp = SctpInfo{.state = 3, .vtag_orig = 11, .vtag_reply = 22};
    EXPECT_EQ(roundTrip(s, st), expected(s)) << int(proto);
  }
  Session icmp;
  icmp.orig = {.src = ip("192.0.2.1"), .dst = ip("198.51.100.1"), .proto = l4::kIcmp,
               .icmp_id = 77, .icmp_type = 8};
  icmp.reply = invert(icmp.orig);
  icmp.reply.dst = ip("198.51.100.100");
  icmp.reply.icmp_id = 1077;  // id remapped by SNAT
  EXPECT_EQ(roundTrip(icmp, st), expected(icmp));
  Session icmp6;
  icmp6.orig = {.src = ip("2001:db8::1"), .dst = ip("2001:db8:1::1"), .proto = l4::kIcmpv6,
                .icmp_id = 5, .icmp_type = 128};
  icmp6.reply = invert(icmp6.orig);
  EXPECT_EQ(icmp6.reply.icmp_type, 129);
  EXPECT_EQ(roundTrip(icmp6, st), expected(icmp6));
}

TEST(CtMessage, Ipv6ZoneLabelsSeqAdjHelperRoundTrip) {
  ParseStats st;
  Session s;
  s.zone = 7;
  s.orig = {.src = ip("2001:db8::10"), .dst = ip("2001:db8:ffff::10"), .proto = l4::kTcp,
            .src_port = 5555, .dst_port = 21};
  s.reply = invert(s.orig);
  s.reply.dst = ip("2001:db8:100::1");
  s.labels[0] = 0x81;
  s.labels[15] = 0x01;
  s.seq_adj_orig = SeqAdj{.correction_pos = 1, .offset_before = 2, .offset_after = 3};
  s.seq_adj_reply = SeqAdj{.correction_pos = 4, .offset_before = 5, .offset_after = 6};
  s.helper = "ftp";
  s.tcp = TcpInfo{.state = 3};
  EXPECT_EQ(roundTrip(s, st), expected(s));
}

TEST(CtMessage, WindowBookkeepingFlagsAreNotWritten) {
  ParseStats st;
  Session s = tcpSnat();
  s.tcp->flags_orig = 0x3f;  // includes DATA_UNACKNOWLEDGED and MAXACK_SET
  EXPECT_EQ(roundTrip(s, st).tcp->flags_orig, kTcpFlagsSynced);
}

std::vector<uint8_t> message(uint8_t family, const std::function<void(nlmsghdr*)>& attrs) {
  std::vector<uint8_t> buf(4096);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = family;
  attrs(nlh);
  return buf;
}

TEST(CtMessage, RejectsWithReasonAndCounts) {
  ParseStats st;
  auto parse = [&](const std::vector<uint8_t>& b) {
    return parseConntrack(reinterpret_cast<const nlmsghdr*>(b.data()), st);
  };
  auto r = parse(message(AF_INET, [](nlmsghdr*) {}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ParseError::kMissingTuple);

  r = parse(message(7, [](nlmsghdr*) {}));
  EXPECT_EQ(r.error(), ParseError::kUnsupportedFamily);

  // A well-formed message whose protocol gwsync does not sync (IPPROTO_ESP = 50).
  Session s = tcpSnat();
  std::vector<uint8_t> buf(kMaxRequestSize);
  s.orig.proto = s.reply.proto = 50;
  buildRequest(CtOp::kCreate, s, 1, false, buf);
  r = parse(buf);
  EXPECT_EQ(r.error(), ParseError::kUnsupportedProtocol);

  // A mark attribute of the wrong size.
  buildRequest(CtOp::kCreate, tcpSnat(), 1, false, buf);
  auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data());
  mnl_attr_put_u16(nlh, CTA_MARK, 1);  // duplicate CTA_MARK, 2 bytes: last one wins
  r = parse(buf);
  EXPECT_EQ(r.error(), ParseError::kBadAttribute);

  std::vector<uint8_t> wrong(64);
  auto* other = mnl_nlmsg_put_header(wrong.data());
  other->nlmsg_type = 0x0101;  // another subsystem
  r = parse(wrong);
  EXPECT_EQ(r.error(), ParseError::kNotConntrack);

  EXPECT_EQ(st.errors[size_t(ParseError::kMissingTuple)], 1u);
  EXPECT_EQ(st.errors[size_t(ParseError::kUnsupportedFamily)], 1u);
  EXPECT_EQ(st.errors[size_t(ParseError::kUnsupportedProtocol)], 1u);
  EXPECT_EQ(st.errors[size_t(ParseError::kBadAttribute)], 1u);
  EXPECT_EQ(st.errors[size_t(ParseError::kNotConntrack)], 1u);
}

TEST(CtMessage, UnknownAttributesAreSkippedAndCounted) {
  ParseStats st;
  std::vector<uint8_t> buf(kMaxRequestSize + 64);
  buildRequest(CtOp::kCreate, tcpSnat(), 1, false, buf);
  auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data());
  mnl_attr_put_u32(nlh, CTA_MAX + 5, 1);  // from a newer kernel
  auto r = parseConntrack(nlh, st);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, expected(tcpSnat()));
  EXPECT_EQ(st.unknown_attributes, 1u);
}

TEST(CtMessage, TruncatedInputNeverCrashes) {
  std::vector<uint8_t> full(kMaxRequestSize);
  const size_t len = buildRequest(CtOp::kCreate, tcpSnat(), 1, false, full);
  ParseStats st;
  size_t rejected = 0;
  for (size_t cut = sizeof(nlmsghdr); cut < len; ++cut) {
    std::vector<uint8_t> b(full.begin(), full.begin() + cut);
    b.resize(cut + 8);  // the header still claims the full length: the parser must not trust it
    auto* nlh = reinterpret_cast<nlmsghdr*>(b.data());
    nlh->nlmsg_len = static_cast<uint32_t>(cut);
    if (!parseConntrack(nlh, st).ok()) ++rejected;
  }
  EXPECT_GT(rejected, 0u);
}

}  // namespace
}  // namespace gwsync::syncd
