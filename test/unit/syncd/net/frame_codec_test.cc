#include "syncd/wire/frame_codec.h"

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace gwsync::syncd {
namespace {

using Status = FrameDecoder::Status;

IpAddress ip(std::string_view text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

Session tcpSession(uint16_t src_port) {
  Session s;
  s.orig.src = ip("10.0.0.2");
  s.orig.dst = ip("198.51.100.7");
  s.orig.proto = l4::kTcp;
  s.orig.src_port = src_port;
  s.orig.dst_port = 443;
  s.reply = invert(s.orig);
  s.status = status::kSeenReply | status::kAssured | status::kConfirmed;
  s.timeout = 431999;
  s.tcp = TcpInfo{.state = 3, .flags_orig = 0x23, .flags_reply = 0x33, .wscale_orig = 7};
  s.owner = 2;
  s.version = 17;
  return s;
}

Session udp6Session() {
  Session s;
  s.zone = 7;
  s.orig.src = ip("2001:db8::2");
  s.orig.dst = ip("2001:db8::53");
  s.orig.proto = l4::kUdp;
  s.orig.src_port = 5353;
  s.orig.dst_port = 53;
  s.reply = invert(s.orig);
  s.timeout = 30;
  s.helper = "ftp";
  return s;
}

// sync_messages.h gives Item::session and ItemsMsg::items no initializer, so g++ flags
// designated initializers that skip them; these helpers keep the cases readable.
Item upsertItem(const Session& s) {
  Item item;
  item.session = s;
  return item;
}

// A remove carries only the key: what a decoded remove holds.
Item removeItem(const Session& s) {
  Item item;
  item.kind = Item::Kind::kRemove;
  item.session.zone = s.zone;
  item.session.orig = s.orig;
  return item;
}

Item bulkItem(Item::Kind kind, uint64_t id, uint64_t sessions = 0, bool stream_start = false) {
  Item item;
  item.kind = kind;
  item.bulk_id = id;
  item.bulk_sessions = sessions;
  item.stream_start = stream_start;
  return item;
}

ItemsMsg itemsMsg(uint64_t epoch, uint64_t first_seq, std::vector<Item> items = {}) {
  return ItemsMsg{.epoch = epoch, .first_seq = first_seq, .items = std::move(items)};
}

ItemsMsg itemsOfEveryKind() {
  return itemsMsg(
      9, 1,
      {bulkItem(Item::Kind::kBulkBegin, 4, 0, true), upsertItem(tcpSession(40000)),
       upsertItem(udp6Session()), removeItem(udp6Session()), bulkItem(Item::Kind::kBulkEnd, 4, 2)});
}

std::vector<SyncMessage> everyKind() {
  return {
      HelloMsg{.node_id = 1,
               .site = "fra1",
               .epoch = 1700000000,
               .peer_epoch = 1699999999,
               .next_expected = 42},
      itemsOfEveryKind(),
      AckMsg{.epoch = 9, .seq = 5},
      ResyncRequestMsg{.reason = 3},
  };
}

std::string encodeAll(const std::vector<SyncMessage>& msgs) {
  std::string out;
  for (const auto& m : msgs) encodeFrame(m, out);
  return out;
}

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string header(uint32_t len) {
  return {static_cast<char>(len >> 24), static_cast<char>(len >> 16), static_cast<char>(len >> 8),
          static_cast<char>(len)};
}

std::string framed(const v1::Frame& f) {
  const std::string body = f.SerializeAsString();
  return header(static_cast<uint32_t>(body.size())) + body;
}

// Decodes every complete frame in `data`, stopping at the first bad one.
std::vector<FrameDecoder::Decoded> decodeAll(FrameDecoder& d, const std::string& data) {
  std::vector<FrameDecoder::Decoded> out;
  auto input = bytes(data);
  for (;;) {
    auto r = d.decode(input);
    if (r.status == Status::kNeedMore) break;
    out.push_back(std::move(r));
    if (out.back().status == Status::kBad) break;
  }
  return out;
}

FrameFault faultOf(const std::string& data, size_t max_items = kDefaultMaxItemsPerFrame) {
  FrameDecoder d(kDefaultMaxFrameBytes, max_items);
  auto input = bytes(data);
  auto r = d.decode(input);
  EXPECT_EQ(r.status, Status::kBad);
  return r.fault;
}

TEST(FrameCodecTest, RoundTripsEveryMessageKind) {
  for (const auto& m : everyKind()) {
    std::string wire;
    encodeFrame(m, wire);
    FrameDecoder d;
    auto input = bytes(wire);
    auto r = d.decode(input);
    ASSERT_EQ(r.status, Status::kGood) << frameErrorName(r.fault.error);
    EXPECT_EQ(r.message, m);
    EXPECT_TRUE(input.empty());
    EXPECT_EQ(d.decode(input).status, Status::kNeedMore);
    EXPECT_EQ(d.buffered(), 0u);
  }
}

TEST(FrameCodecTest, EncodeAppendsBigEndianLength) {
  std::string wire = "xy";
  encodeFrame(AckMsg{.epoch = 1, .seq = 2}, wire);
  v1::Frame f;
  f.mutable_ack()->set_epoch(1);
  f.mutable_ack()->set_seq(2);
  EXPECT_EQ(wire, "xy" + framed(f));
}

TEST(FrameCodecTest, RemoveCarriesOnlyTheKey) {
  Item remove = upsertItem(tcpSession(1));
  remove.kind = Item::Kind::kRemove;
  const ItemsMsg m = itemsMsg(1, 1, {remove});
  std::string wire;
  encodeFrame(m, wire);
  FrameDecoder d;
  auto input = bytes(wire);
  auto r = d.decode(input);
  ASSERT_EQ(r.status, Status::kGood);
  const auto& got = std::get<ItemsMsg>(r.message);
  ASSERT_EQ(got.items.size(), 1u);
  EXPECT_EQ(got.items[0], removeItem(tcpSession(1)));
}

// One decoder parses every frame of a connection on the same arena: a frame larger than the
// arena's first block, a bad frame's partial parse, and the frames around them come out whole.
TEST(FrameCodecTest, OneDecoderManyFramesLargeAndSmall) {
  std::vector<Item> many;
  for (uint16_t p = 1; p <= 4000; ++p) many.push_back(upsertItem(tcpSession(p)));
  const std::vector<SyncMessage> msgs = {itemsMsg(1, 1, {upsertItem(udp6Session())}),
                                         itemsMsg(1, 2, many),
                                         itemsMsg(1, 4002, {upsertItem(tcpSession(9))})};
  const std::string wire = encodeAll(msgs);
  // Parsed, 4000 sessions take several times the 256 KiB that the arena starts with.
  ASSERT_GT(wire.size(), 128u * 1024);
  FrameDecoder d;
  for (int round = 0; round < 3; ++round) {
    const auto got = decodeAll(d, wire);
    ASSERT_EQ(got.size(), msgs.size());
    for (size_t i = 0; i < msgs.size(); ++i) {
      ASSERT_EQ(got[i].status, Status::kGood);
      EXPECT_EQ(got[i].message, msgs[i]);
    }
  }
  // A frame that fails to parse midway leaves nothing behind on the arena that a later
  // decoder use could see; this decoder is failed for good, as before.
  std::string bad = wire.substr(0, kFrameHeaderBytes) + std::string(wire.size(), '\xff');
  FrameDecoder d2;
  EXPECT_EQ(decodeAll(d2, wire).size(), msgs.size());
  const auto after = decodeAll(d2, bad);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].status, Status::kBad);
}

TEST(FrameCodecTest, DecodesByteByByte) {
  const auto msgs = everyKind();
  const std::string wire = encodeAll(msgs);
  FrameDecoder d;
  std::vector<SyncMessage> got;
  for (size_t i = 0; i < wire.size(); ++i) {
    std::span<const uint8_t> one = bytes(wire).subspan(i, 1);
    auto r = d.decode(one);
    ASSERT_NE(r.status, Status::kBad) << "at byte " << i;
    EXPECT_TRUE(one.empty());
    if (r.status == Status::kGood) got.push_back(std::move(r.message));
  }
  EXPECT_EQ(got, msgs);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameCodecTest, DecodesSeveralFramesFromOneBuffer) {
  const auto msgs = everyKind();
  FrameDecoder d;
  const auto results = decodeAll(d, encodeAll(msgs) + encodeAll(msgs));
  ASSERT_EQ(results.size(), 2 * msgs.size());
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_EQ(results[i].status, Status::kGood);
    EXPECT_EQ(results[i].message, msgs[i % msgs.size()]);
  }
}

TEST(FrameCodecTest, RejectsOversizedLengthBeforeTheBody) {
  FrameDecoder d(1024);
  const std::string head = header(1025);
  auto input = bytes(head);
  auto r = d.decode(input);
  EXPECT_EQ(r.status, Status::kBad);
  EXPECT_EQ(r.fault.error, FrameError::kFrameTooLarge);
  EXPECT_EQ(d.buffered(), 0u);

  // A hostile 4 GiB length is refused the same way.
  FrameDecoder huge(1024);
  const std::string max_head = header(std::numeric_limits<uint32_t>::max());
  auto in2 = bytes(max_head);
  EXPECT_EQ(huge.decode(in2).fault.error, FrameError::kFrameTooLarge);
}

TEST(FrameCodecTest, AcceptsAFrameOfExactlyTheLimit) {
  v1::Frame f;
  f.mutable_hello()->set_protocol_version(kProtocolVersion);
  f.mutable_hello()->set_node_id(1);
  f.mutable_hello()->set_epoch(1);
  const std::string wire = framed(f);
  FrameDecoder d(wire.size() - kFrameHeaderBytes);
  auto input = bytes(wire);
  EXPECT_EQ(d.decode(input).status, Status::kGood);
}

TEST(FrameCodecTest, RejectsZeroLength) {
  EXPECT_EQ(faultOf(header(0)).error, FrameError::kEmptyFrame);
}

TEST(FrameCodecTest, RejectsGarbage) {
  EXPECT_EQ(faultOf(header(3) + "\xff\xff\xff").error, FrameError::kBadProtobuf);
  // A length-delimited field that claims more bytes than the frame holds.
  EXPECT_EQ(faultOf(header(2) + "\x12\x7f").error, FrameError::kBadProtobuf);
}

TEST(FrameCodecTest, StaysFailedAfterABadFrame) {
  FrameDecoder d;
  const std::string data = header(0) + encodeAll(everyKind());
  auto input = bytes(data);
  EXPECT_EQ(d.decode(input).status, Status::kBad);
  EXPECT_TRUE(d.failed());
  auto again = d.decode(input);
  EXPECT_EQ(again.status, Status::kBad);
  EXPECT_EQ(again.fault.error, FrameError::kEmptyFrame);
  EXPECT_TRUE(input.empty());
}

// One frame per rejection reason, each valid but for one field.
struct BadFrameCase {
  std::string name;
  std::function<void(v1::Frame&)> spoil;
  FrameFault want;
};

v1::Frame validHello() {
  v1::Frame f;
  auto* h = f.mutable_hello();
  h->set_protocol_version(kProtocolVersion);
  h->set_node_id(1);
  h->set_site(std::string(kMaxSiteLength, 's'));
  h->set_epoch(5);
  return f;
}

v1::Frame validItems() {
  v1::Frame f;
  toProto(itemsOfEveryKind(), &f);
  return f;
}

FrameFault want(FrameError e, std::optional<DecodeError> s = std::nullopt) {
  return FrameFault{.error = e, .session = s};
}

std::vector<BadFrameCase> badFrameCases() {
  return {
      {"bad_version", [](v1::Frame& f) { f.mutable_hello()->set_protocol_version(2); },
       want(FrameError::kBadVersion)},
      {"hello_node_zero", [](v1::Frame& f) { f.mutable_hello()->set_node_id(0); },
       want(FrameError::kBadHello)},
      {"hello_epoch_zero", [](v1::Frame& f) { f.mutable_hello()->set_epoch(0); },
       want(FrameError::kBadHello)},
      {"hello_site_too_long",
       [](v1::Frame& f) { f.mutable_hello()->set_site(std::string(kMaxSiteLength + 1, 's')); },
       want(FrameError::kBadHello)},
      {"items_epoch_zero",
       [](v1::Frame& f) {
         f = validItems();
         f.mutable_items()->set_epoch(0);
       },
       want(FrameError::kBadItems)},
      {"items_first_seq_zero",
       [](v1::Frame& f) {
         f = validItems();
         f.mutable_items()->set_first_seq(0);
       },
       want(FrameError::kBadItems)},
      {"items_seq_wraps",
       [](v1::Frame& f) {
         f = validItems();
         f.mutable_items()->set_first_seq(std::numeric_limits<uint64_t>::max() - 3);
       },
       want(FrameError::kBadItems)},
      {"item_without_kind",
       [](v1::Frame& f) {
         f = validItems();
         f.mutable_items()->add_items()->set_stream_start(true);
       },
       want(FrameError::kBadItems)},
      {"upsert_bad_family",
       [](v1::Frame& f) {
         f = validItems();
         f.mutable_items()->mutable_items(1)->mutable_upsert()->set_family(v1::IpFamily(9));
       },
       want(FrameError::kBadSession, DecodeError::kBadFamily)},
      {"remove_missing_tuple",
       [](v1::Frame& f) {
         f = validItems();
         f.mutable_items()->mutable_items(3)->mutable_remove()->clear_orig();
       },
       want(FrameError::kBadSession, DecodeError::kMissingTuple)},
      {"ack_epoch_zero",
       [](v1::Frame& f) {
         f.Clear();
         f.mutable_ack()->set_seq(3);
       },
       want(FrameError::kBadAck)},
  };
}

TEST(FrameCodecTest, RejectsEachInvalidField) {
  for (const auto& c : badFrameCases()) {
    SCOPED_TRACE(c.name);
    v1::Frame f = validHello();
    c.spoil(f);
    EXPECT_EQ(faultOf(framed(f)), c.want);
  }
  // The unspoilt frames decode.
  FrameDecoder d;
  EXPECT_EQ(decodeAll(d, framed(validHello()) + framed(validItems())).size(), 2u);
}

TEST(FrameCodecTest, RejectsAFrameWithoutBody) {
  // An empty Frame serializes to nothing, so a body-less frame that reaches the parser carries
  // only fields this build does not know (here field 99), as from a newer peer.
  EXPECT_EQ(faultOf(header(3) + "\x98\x06\x01").error, FrameError::kNoBody);
}

TEST(FrameCodecTest, LimitsItemsPerFrame) {
  const std::string wire = framed(validItems());  // five items
  EXPECT_EQ(faultOf(wire, 4).error, FrameError::kTooManyItems);
  FrameDecoder d(kDefaultMaxFrameBytes, 5);
  auto input = bytes(wire);
  EXPECT_EQ(d.decode(input).status, Status::kGood);
}

TEST(FrameCodecTest, AcceptsEmptyItemsAndAckOfSeqZero) {
  FrameDecoder d;
  const auto results = decodeAll(d, encodeAll({itemsMsg(3, 7), AckMsg{.epoch = 3, .seq = 0}}));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status, Status::kGood);
  EXPECT_EQ(results[1].status, Status::kGood);
}

TEST(FrameCodecTest, IgnoresUnknownFields) {
  v1::Frame f = validItems();
  auto add_unknown = [](google::protobuf::Message* m) {
    m->GetReflection()->MutableUnknownFields(m)->AddVarint(1000, 7);
    m->GetReflection()->MutableUnknownFields(m)->AddLengthDelimited(1001, "future");
  };
  add_unknown(&f);
  add_unknown(f.mutable_items());
  add_unknown(f.mutable_items()->mutable_items(1));
  add_unknown(f.mutable_items()->mutable_items(1)->mutable_upsert()->mutable_orig());
  FrameDecoder d;
  const auto results = decodeAll(d, framed(f));
  ASSERT_EQ(results.size(), 1u);
  ASSERT_EQ(results[0].status, Status::kGood);
  EXPECT_EQ(results[0].message, SyncMessage{itemsOfEveryKind()});
}

TEST(FrameCodecTest, ErrorNamesAreDistinctSnakeCase) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < kFrameErrorCount; ++i) {
    const auto name = frameErrorName(static_cast<FrameError>(i));
    EXPECT_NE(name, "unknown");
    for (char c : name)
      EXPECT_TRUE(std::islower(static_cast<unsigned char>(c)) || c == '_') << name;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), kFrameErrorCount);
}

// Random and mutated input must never crash, hang or grow memory past the limit; whatever the
// decoder accepts must re-encode to a frame it accepts again.
TEST(FrameCodecTest, SurvivesRandomInput) {
  google::protobuf::LogSilencer quiet;  // invalid UTF-8 in a string field is logged by protobuf
  std::mt19937_64 rng(20240611);
  const std::string valid = encodeAll(everyKind());
  constexpr size_t kMaxFrame = 4096;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string data;
    if (iter % 2 == 0) {
      data = valid;
      const int flips = 1 + static_cast<int>(rng() % 8);
      for (int i = 0; i < flips; ++i) data[rng() % data.size()] = static_cast<char>(rng());
    } else {
      data = header(static_cast<uint32_t>(rng() % 300));
      const size_t n = rng() % 300;
      for (size_t i = 0; i < n; ++i) data.push_back(static_cast<char>(rng()));
    }
    FrameDecoder d(kMaxFrame, 64);
    auto input = bytes(data);
    while (!input.empty()) {
      auto chunk = input.first(std::min<size_t>(input.size(), 1 + rng() % 64));
      input = input.subspan(chunk.size());
      for (;;) {
        auto r = d.decode(chunk);
        ASSERT_LE(d.buffered(), kMaxFrame + kFrameHeaderBytes);
        if (r.status == Status::kNeedMore) break;
        if (r.status == Status::kBad) {
          ASSERT_TRUE(chunk.empty());
          break;
        }
        std::string again;
        encodeFrame(r.message, again);
        FrameDecoder check(kMaxFrame, 64);
        auto in2 = bytes(again);
        auto r2 = check.decode(in2);
        ASSERT_EQ(r2.status, Status::kGood) << frameErrorName(r2.fault.error);
        ASSERT_EQ(r2.message, r.message);
      }
    }
  }
}

}  // namespace
}  // namespace gwsync::syncd
