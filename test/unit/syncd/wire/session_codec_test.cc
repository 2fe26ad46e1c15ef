#include "syncd/wire/session_codec.h"

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace gwsync::syncd {

// Readable failure messages; static so other test files may define their own.
static void PrintTo(const Session& s, std::ostream* os) {
  *os << "zone=" << s.zone << " orig={" << toString(s.orig) << "} reply={" << toString(s.reply)
      << "} status=" << s.status << " helper=" << s.helper << " owner=" << s.owner
      << " version=" << s.version << (s.tcp ? " +tcp" : "") << (s.sctp ? " +sctp" : "");
}

static void PrintTo(DecodeError e, std::ostream* os) { *os << reasonName(e); }

namespace {

using google::protobuf::util::MessageDifferencer;

IpAddress ip(std::string_view text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

Session makeSession(uint8_t proto, std::string_view src, std::string_view dst) {
  Session s;
  s.orig.src = ip(src);
  s.orig.dst = ip(dst);
  s.orig.proto = proto;
  if (isIcmp(proto)) {
    s.orig.icmp_type = proto == l4::kIcmp ? 8 : 128;
    s.orig.icmp_id = 4321;
  } else {
    s.orig.src_port = 40000;
    s.orig.dst_port = 443;
  }
  s.reply = invert(s.orig);
  s.status = status::kSeenReply | status::kAssured | status::kConfirmed;
  s.timeout = 431999;
  s.mark = 0x2a;
  s.owner = 2;
  s.version = 17;
  return s;
}

Session tcpSession() {
  Session s = makeSession(l4::kTcp, "10.0.0.2", "198.51.100.7");
  s.tcp = TcpInfo{
      .state = 3, .flags_orig = 0x23, .flags_reply = 0x33, .wscale_orig = 7, .wscale_reply = 14};
  return s;
}

// Encode, serialize, parse and decode: what a peer on the other end sees.
Result<Session, DecodeError> overTheWire(const Session& s) {
  v1::Session msg;
  toProto(s, &msg);
  v1::Session parsed;
  EXPECT_TRUE(parsed.ParseFromString(msg.SerializeAsString()));
  return fromProto(parsed);
}

// The round-trip property: what the peer decodes equals what was encoded.
::testing::AssertionResult roundTrips(const Session& s) {
  auto got = overTheWire(s);
  if (!got.ok()) return ::testing::AssertionFailure() << "rejected: " << reasonName(got.error());
  if (!(*got == s)) {
    return ::testing::AssertionFailure() << "decoded " << ::testing::PrintToString(*got)
                                         << "\n   sent " << ::testing::PrintToString(s);
  }
  return ::testing::AssertionSuccess();
}

// --- round trips -------------------------------------------------------------------------------

TEST(SessionCodecTest, RoundTripsIpv4Tcp) { EXPECT_TRUE(roundTrips(tcpSession())); }

TEST(SessionCodecTest, RoundTripsIpv6Udp) {
  Session s = makeSession(l4::kUdp, "2001:db8::1", "2001:db8:ffff::35");
  s.orig.dst_port = 53;
  s.reply = invert(s.orig);
  EXPECT_TRUE(roundTrips(s));
}

TEST(SessionCodecTest, RoundTripsSnatAndDnatTuples) {
  Session s = tcpSession();
  s.reply.src = ip("10.2.0.5");  // DNAT
  s.reply.src_port = 8443;
  s.reply.dst = ip("10.2.0.1");  // SNAT with port change
  s.reply.dst_port = 62000;
  s.status |= status::kSrcNat | status::kDstNat | status::kSrcNatDone | status::kDstNatDone;
  ASSERT_TRUE(sourceNat(s).has_value());
  ASSERT_TRUE(destinationNat(s).has_value());
  auto got = overTheWire(s);
  ASSERT_TRUE(got.ok()) << reasonName(got.error());
  EXPECT_EQ(*got, s);
  EXPECT_EQ(sourceNat(*got), sourceNat(s));
  EXPECT_EQ(destinationNat(*got), destinationNat(s));
}

TEST(SessionCodecTest, RoundTripsEveryProtocol) {
  struct Case {
    uint8_t proto;
    const char* src;
    const char* dst;
  };
  const std::array<Case, 8> cases = {{
      {l4::kTcp, "10.0.0.2", "10.0.1.2"},
      {l4::kUdp, "10.0.0.2", "10.0.1.2"},
      {l4::kUdpLite, "10.0.0.2", "10.0.1.2"},
      {l4::kIcmp, "10.0.0.2", "10.0.1.2"},
      {l4::kIcmpv6, "fd00::2", "fd00:1::2"},
      {l4::kSctp, "fd00::2", "fd00:1::2"},
      {l4::kGre, "10.0.0.2", "10.0.1.2"},
      {l4::kDccp, "fd00::2", "fd00:1::2"},
  }};
  for (const Case& c : cases) {
    SCOPED_TRACE(int{c.proto});
    Session s = makeSession(c.proto, c.src, c.dst);
    if (c.proto == l4::kTcp) s.tcp = TcpInfo{.state = 9, .flags_orig = 0xff, .wscale_orig = 14};
    if (c.proto == l4::kSctp) {
      s.sctp = SctpInfo{.state = 4, .vtag_orig = 0xdeadbeef, .vtag_reply = 0x01020304};
    }
    EXPECT_TRUE(roundTrips(s));
  }
}

TEST(SessionCodecTest, RoundTripsIcmpFields) {
  Session s = makeSession(l4::kIcmp, "10.0.0.2", "192.0.2.9");
  s.orig.icmp_id = 0xffff;
  s.orig.icmp_code = 0xff;
  s.reply = invert(s.orig);
  s.reply.icmp_id = 1;  // SNAT remapped the id
  EXPECT_TRUE(roundTrips(s));
}

TEST(SessionCodecTest, RoundTripsPresentButZeroOptionals) {
  // Presence is the message field's, not a non-zero value: all-zero parts must survive.
  Session s = tcpSession();
  s.tcp = TcpInfo{};
  s.seq_adj_orig = SeqAdj{};
  s.seq_adj_reply = SeqAdj{};
  EXPECT_TRUE(roundTrips(s));

  s.tcp.reset();
  s.seq_adj_orig.reset();
  s.seq_adj_reply.reset();
  EXPECT_TRUE(roundTrips(s));
}

TEST(SessionCodecTest, RoundTripsLabels) {
  Session s = tcpSession();
  s.labels[0] = 0x01;  // bit 0
  s.labels[7] = 0x5a;
  s.labels[15] = 0x80;  // bit 127
  EXPECT_TRUE(roundTrips(s));
  v1::Session msg;
  toProto(s, &msg);
  EXPECT_EQ(msg.labels().size(), 16u);
  toProto(tcpSession(), &msg);
  EXPECT_TRUE(msg.labels().empty()) << "no labels travel as empty bytes";
}

TEST(SessionCodecTest, RoundTripsSeqAdj) {
  Session s = tcpSession();
  s.helper = "ftp";
  s.status |= status::kSeqAdjust | status::kHelper;
  s.seq_adj_orig = SeqAdj{.correction_pos = 0xfffffff0, .offset_before = 0, .offset_after = 12};
  s.seq_adj_reply = SeqAdj{.correction_pos = 7, .offset_before = 0xffffffff, .offset_after = 3};
  EXPECT_TRUE(roundTrips(s));
}

TEST(SessionCodecTest, RoundTripsHelper) {
  Session s = tcpSession();
  s.helper = "ftp";
  EXPECT_TRUE(roundTrips(s));
  s.helper = std::string(kMaxHelperName, 'h');
  EXPECT_TRUE(roundTrips(s));
}

TEST(SessionCodecTest, RoundTripsOwnerVersionZoneAndScalars) {
  Session s = tcpSession();
  s.owner = std::numeric_limits<uint32_t>::max();
  s.version = std::numeric_limits<uint64_t>::max();
  s.zone = 0xffff;
  s.status = 0xffffffff;
  s.timeout = 0;
  s.mark = 0xffffffff;
  EXPECT_TRUE(roundTrips(s));
  s.zone = 1;
  EXPECT_TRUE(roundTrips(s));
}

TEST(SessionCodecTest, RoundTripsSessionKey) {
  for (const Session& s : {tcpSession(), makeSession(l4::kIcmpv6, "fd00::2", "2001:db8::9")}) {
    SessionKey k = keyOf(s);
    k.zone = 12;
    v1::SessionKey msg;
    toProto(k, &msg);
    v1::SessionKey parsed;
    ASSERT_TRUE(parsed.ParseFromString(msg.SerializeAsString()));
    auto got = fromProto(parsed);
    ASSERT_TRUE(got.ok()) << reasonName(got.error());
    EXPECT_TRUE(*got == k);
  }
}

TEST(SessionCodecTest, CanonicalMessageRoundTripsExactly) {
  Session s = tcpSession();
  s.labels[3] = 0x10;
  s.helper = "ftp";
  s.seq_adj_reply = SeqAdj{.correction_pos = 1, .offset_before = 2, .offset_after = 3};
  v1::Session msg;
  toProto(s, &msg);
  auto decoded = fromProto(msg);
  ASSERT_TRUE(decoded.ok()) << reasonName(decoded.error());
  v1::Session again;
  toProto(*decoded, &again);
  EXPECT_TRUE(MessageDifferencer::Equals(msg, again)) << msg.DebugString() << again.DebugString();
}

TEST(SessionCodecTest, ToProtoReplacesPreviousContents) {
  Session s = tcpSession();
  s.helper = "ftp";
  s.labels[0] = 1;
  v1::Session msg;
  toProto(s, &msg);
  const Session plain = makeSession(l4::kUdp, "10.0.0.2", "10.0.0.3");
  toProto(plain, &msg);
  EXPECT_FALSE(msg.has_tcp());
  EXPECT_TRUE(msg.helper().empty());
  EXPECT_TRUE(msg.labels().empty());
  v1::Session fresh;
  toProto(plain, &fresh);
  EXPECT_TRUE(MessageDifferencer::Equals(msg, fresh));
}

// --- canonicalization of fields that do not belong to the protocol ---------------------------

TEST(SessionCodecTest, IgnoresPortsOnIcmpAndIcmpFieldsOnPortProtocols) {
  const Session icmp = makeSession(l4::kIcmp, "10.0.0.2", "192.0.2.9");
  v1::Session msg;
  toProto(icmp, &msg);
  msg.mutable_orig()->set_src_port(99999);  // out of range, yet irrelevant for ICMP
  msg.mutable_reply()->set_dst_port(5);
  auto got = fromProto(msg);
  ASSERT_TRUE(got.ok()) << reasonName(got.error());
  EXPECT_EQ(*got, icmp);

  const Session tcp = tcpSession();
  toProto(tcp, &msg);
  msg.mutable_orig()->set_icmp_id(70000);
  msg.mutable_reply()->set_icmp_type(3);
  got = fromProto(msg);
  ASSERT_TRUE(got.ok()) << reasonName(got.error());
  EXPECT_EQ(*got, tcp);
}

TEST(SessionCodecTest, ZeroLabelBytesMeanNoLabels) {
  v1::Session msg;
  toProto(tcpSession(), &msg);
  msg.set_labels(std::string(16, '\0'));
  auto got = fromProto(msg);
  ASSERT_TRUE(got.ok()) << reasonName(got.error());
  EXPECT_FALSE(hasLabels(*got));
  EXPECT_EQ(*got, tcpSession());
}

// --- forward compatibility ---------------------------------------------------------------------

void appendVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void appendTag(std::string* out, uint32_t field, uint32_t wire_type) {
  appendVarint(out, (uint64_t{field} << 3) | wire_type);
}

TEST(SessionCodecTest, IgnoresUnknownFields) {
  const Session s = tcpSession();
  v1::Session msg;
  toProto(s, &msg);
  msg.clear_orig();
  std::string bytes = msg.SerializeAsString();
  // The orig tuple with an unknown field of its own, then unknown top-level fields.
  toProto(s, &msg);
  std::string tuple_bytes = msg.orig().SerializeAsString();
  appendTag(&tuple_bytes, 99, 0);
  appendVarint(&tuple_bytes, 12345);
  appendTag(&bytes, 3, 2);
  appendVarint(&bytes, tuple_bytes.size());
  bytes += tuple_bytes;
  appendTag(&bytes, 1000, 0);  // varint
  appendVarint(&bytes, 1);
  appendTag(&bytes, 1001, 2);  // length-delimited
  appendVarint(&bytes, 3);
  bytes += "new";

  v1::Session parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  auto got = fromProto(parsed);
  ASSERT_TRUE(got.ok()) << reasonName(got.error());
  EXPECT_EQ(*got, s);
}

// --- rejections: one case per reason -----------------------------------------------------------

struct BadCase {
  const char* name;
  DecodeError want;
  std::function<void(v1::Session*)> mutate;
};
// Test listings show the case's name rather than its bytes.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

// Replaces the message with its bytes plus `extra`: a later scalar value wins when parsing, which
// is how a value this build has no enumerator for arrives.
void reparseWith(v1::Session* m, const std::string& extra) {
  const std::string bytes = m->SerializeAsString() + extra;
  ASSERT_TRUE(m->ParseFromString(bytes));
}

void setProto(v1::Session* m, uint32_t proto) {
  m->mutable_orig()->set_l4_proto(proto);
  m->mutable_reply()->set_l4_proto(proto);
}

const std::vector<BadCase>& badCases() {
  static const std::vector<BadCase> cases = {
      {"MissingOrig", DecodeError::kMissingTuple, [](v1::Session* m) { m->clear_orig(); }},
      {"MissingReply", DecodeError::kMissingTuple, [](v1::Session* m) { m->clear_reply(); }},
      {"UnspecifiedFamily", DecodeError::kBadFamily,
       [](v1::Session* m) { m->set_family(v1::IP_FAMILY_UNSPECIFIED); }},
      {"UnknownFamilyValue", DecodeError::kBadFamily,
       [](v1::Session* m) { reparseWith(m, std::string("\x08\x07", 2)); }},
      {"FiveByteAddress", DecodeError::kBadAddressLength,
       [](v1::Session* m) { m->mutable_orig()->set_src(std::string(5, '\1')); }},
      {"EmptyAddress", DecodeError::kBadAddressLength,
       [](v1::Session* m) { m->mutable_reply()->clear_dst(); }},
      {"Ipv6AddressInIpv4Session", DecodeError::kFamilyMismatch,
       [](v1::Session* m) { m->mutable_reply()->set_src(std::string(16, '\1')); }},
      {"Ipv6FamilyOnIpv4Addresses", DecodeError::kFamilyMismatch,
       [](v1::Session* m) { m->set_family(v1::IP_FAMILY_IPV6); }},
      {"UnsupportedProtocol", DecodeError::kUnsupportedProtocol,
       [](v1::Session* m) { setProto(m, 50); }},
      {"ProtocolAbove255", DecodeError::kUnsupportedProtocol,
       [](v1::Session* m) { setProto(m, 256 + l4::kTcp); }},
      {"OrigReplyProtocolsDiffer", DecodeError::kProtocolMismatch,
       [](v1::Session* m) { m->mutable_reply()->set_l4_proto(l4::kUdp); }},
      {"Icmpv6InIpv4", DecodeError::kProtocolMismatch,
       [](v1::Session* m) {
         m->clear_tcp();
         setProto(m, l4::kIcmpv6);
       }},
      {"SourcePortAbove65535", DecodeError::kPortOutOfRange,
       [](v1::Session* m) { m->mutable_orig()->set_src_port(65536); }},
      {"ReplyDestinationPortAbove65535", DecodeError::kPortOutOfRange,
       [](v1::Session* m) { m->mutable_reply()->set_dst_port(0xffffffff); }},
      {"IcmpIdAbove65535", DecodeError::kIcmpFieldOutOfRange,
       [](v1::Session* m) {
         m->clear_tcp();
         setProto(m, l4::kIcmp);
         m->mutable_orig()->set_icmp_id(65536);
       }},
      {"IcmpTypeAbove255", DecodeError::kIcmpFieldOutOfRange,
       [](v1::Session* m) {
         m->clear_tcp();
         setProto(m, l4::kIcmp);
         m->mutable_reply()->set_icmp_type(256);
       }},
      {"IcmpCodeAbove255", DecodeError::kIcmpFieldOutOfRange,
       [](v1::Session* m) {
         m->clear_tcp();
         setProto(m, l4::kIcmp);
         m->mutable_orig()->set_icmp_code(300);
       }},
      {"ZoneAbove65535", DecodeError::kZoneOutOfRange, [](v1::Session* m) { m->set_zone(65536); }},
      {"FifteenLabelBytes", DecodeError::kBadLabelsLength,
       [](v1::Session* m) { m->set_labels(std::string(15, '\1')); }},
      {"SeventeenLabelBytes", DecodeError::kBadLabelsLength,
       [](v1::Session* m) { m->set_labels(std::string(17, '\0')); }},
      {"TcpInfoOnUdp", DecodeError::kTcpInfoOnNonTcp,
       [](v1::Session* m) { setProto(m, l4::kUdp); }},
      {"SctpInfoOnTcp", DecodeError::kSctpInfoOnNonSctp, [](v1::Session* m) { m->mutable_sctp(); }},
      {"TcpStateBeyondMax", DecodeError::kTcpFieldOutOfRange,
       [](v1::Session* m) { m->mutable_tcp()->set_state(10); }},
      {"TcpWscaleAbove14", DecodeError::kTcpFieldOutOfRange,
       [](v1::Session* m) { m->mutable_tcp()->set_wscale_reply(15); }},
      {"TcpFlagsAbove255", DecodeError::kTcpFieldOutOfRange,
       [](v1::Session* m) { m->mutable_tcp()->set_flags_orig(0x100); }},
      {"SctpStateBeyondMax", DecodeError::kSctpStateOutOfRange,
       [](v1::Session* m) {
         m->clear_tcp();
         setProto(m, l4::kSctp);
         m->mutable_sctp()->set_state(10);
       }},
      {"HelperTooLong", DecodeError::kHelperTooLong,
       [](v1::Session* m) { m->set_helper(std::string(kMaxHelperName + 1, 'h')); }},
      {"HelperWithNul", DecodeError::kBadHelperName,
       [](v1::Session* m) { m->set_helper(std::string("ft\0p", 4)); }},
  };
  return cases;
}

class SessionCodecRejectTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(SessionCodecRejectTest, RejectsWithExactReason) {
  v1::Session msg;
  toProto(tcpSession(), &msg);
  ASSERT_TRUE(fromProto(msg).ok()) << "the base message must be valid";
  GetParam().mutate(&msg);
  auto got = fromProto(msg);
  ASSERT_FALSE(got.ok()) << "accepted: " << msg.DebugString();
  EXPECT_EQ(got.error(), GetParam().want) << msg.DebugString();
}

INSTANTIATE_TEST_SUITE_P(AllReasons, SessionCodecRejectTest, ::testing::ValuesIn(badCases()),
                         [](const ::testing::TestParamInfo<BadCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(SessionCodecTest, RejectCasesCoverEveryReason) {
  std::set<DecodeError> covered;
  for (const BadCase& c : badCases()) covered.insert(c.want);
  EXPECT_EQ(covered.size(), kDecodeErrorCount);
}

TEST(SessionCodecTest, BoundaryValuesAreAccepted) {
  v1::Session msg;
  toProto(tcpSession(), &msg);
  msg.set_zone(65535);
  msg.mutable_orig()->set_src_port(65535);
  msg.mutable_tcp()->set_state(9);
  msg.mutable_tcp()->set_wscale_orig(14);
  msg.mutable_tcp()->set_flags_reply(0xff);
  msg.set_helper(std::string(kMaxHelperName, 'x'));
  EXPECT_TRUE(fromProto(msg).ok());
}

TEST(SessionCodecTest, EmptyMessageIsRejectedNotCrashed) {
  auto got = fromProto(v1::Session{});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error(), DecodeError::kBadFamily);
  auto key = fromProto(v1::SessionKey{});
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error(), DecodeError::kBadFamily);
}

std::optional<DecodeError> rejection(const v1::SessionKey& m) {
  auto got = fromProto(m);
  if (got.ok()) return std::nullopt;
  return got.error();
}

TEST(SessionCodecTest, SessionKeyRejections) {
  v1::SessionKey base;
  toProto(keyOf(tcpSession()), &base);
  ASSERT_EQ(rejection(base), std::nullopt);

  v1::SessionKey m = base;
  m.clear_orig();
  EXPECT_EQ(rejection(m), DecodeError::kMissingTuple);
  m = base;
  m.set_zone(70000);
  EXPECT_EQ(rejection(m), DecodeError::kZoneOutOfRange);
  m = base;
  m.set_family(v1::IP_FAMILY_UNSPECIFIED);
  EXPECT_EQ(rejection(m), DecodeError::kBadFamily);
  m = base;
  m.set_family(v1::IP_FAMILY_IPV6);
  EXPECT_EQ(rejection(m), DecodeError::kFamilyMismatch);
  m = base;
  m.mutable_orig()->set_src("abc");
  EXPECT_EQ(rejection(m), DecodeError::kBadAddressLength);
  m = base;
  m.mutable_orig()->set_dst_port(65536);
  EXPECT_EQ(rejection(m), DecodeError::kPortOutOfRange);
  m = base;
  m.mutable_orig()->set_l4_proto(0);
  EXPECT_EQ(rejection(m), DecodeError::kUnsupportedProtocol);
  m = base;
  m.mutable_orig()->set_l4_proto(l4::kIcmp);
  m.mutable_orig()->set_icmp_type(256);
  EXPECT_EQ(rejection(m), DecodeError::kIcmpFieldOutOfRange);
}

// Random byte flips over a valid message: the decoder must reject or accept, never crash, and
// whatever it accepts must be canonical (re-encoding and decoding gives the same session).
TEST(SessionCodecTest, MutatedBytesNeverCrashAndAcceptedOnesAreCanonical) {
  Session s = tcpSession();
  s.labels[2] = 4;
  s.helper = "ftp";
  s.seq_adj_orig = SeqAdj{.correction_pos = 1, .offset_before = 2, .offset_after = 3};
  v1::Session msg;
  toProto(s, &msg);
  const std::string base = msg.SerializeAsString();
  uint64_t rng = 0x9e3779b97f4a7c15ull;  // fixed seed: reproducible
  auto next = [&rng] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  // Flipped bytes often make the helper invalid UTF-8, which the parser rejects and logs.
  const google::protobuf::LogSilencer quiet;
  int accepted = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string bytes = base;
    const int flips = 1 + static_cast<int>(next() % 3);
    for (int f = 0; f < flips; ++f) bytes[next() % bytes.size()] = static_cast<char>(next());
    v1::Session parsed;
    if (!parsed.ParseFromString(bytes)) continue;
    auto got = fromProto(parsed);
    if (!got.ok()) {
      EXPECT_FALSE(reasonName(got.error()).empty());
      continue;
    }
    ++accepted;
    auto again = overTheWire(*got);
    ASSERT_TRUE(again.ok()) << reasonName(again.error());
    EXPECT_EQ(*again, *got);
  }
  EXPECT_GT(accepted, 0);
}

// --- reason names ------------------------------------------------------------------------------

TEST(SessionCodecTest, ReasonNamesAreDistinctStableSnakeCase) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < kDecodeErrorCount; ++i) {
    const std::string_view name = reasonName(static_cast<DecodeError>(i));
    EXPECT_FALSE(name.empty()) << i;
    EXPECT_NE(name, "unknown") << i;
    for (char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << name;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), kDecodeErrorCount);
  EXPECT_EQ(reasonName(DecodeError::kBadFamily), "bad_family");
  EXPECT_EQ(reasonName(static_cast<DecodeError>(200)), "unknown");
}

}  // namespace
}  // namespace gwsync::syncd
