#include "syncd/wire/frame_codec.h"

#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <climits>
#include <limits>
#include <type_traits>
#include <utility>

namespace gwsync::syncd {

namespace {

// Frame > Items > Item > Session > Tuple is five levels; the slack covers newer optional
// submessages while a crafted frame of nested unknown groups still cannot recurse deeply.
constexpr int kMaxNesting = 16;

// CodedInputStream sizes are int; a larger limit than this is a configuration mistake anyway.
constexpr size_t kMaxFrameLimit = static_cast<size_t>(INT_MAX);

// The decoder's arena: a first block that holds a full Items frame of the default 512 sessions
// (about 400 bytes of protobuf objects each), so that a steady stream allocates nothing; larger
// frames add blocks, which the reset after the frame returns.
constexpr size_t kArenaFirstBlock = 256 * 1024;
constexpr size_t kArenaMaxBlock = 256 * 1024;

FrameFault fault(FrameError e) { return FrameFault{.error = e, .session = std::nullopt}; }

void helloToProto(const HelloMsg& h, v1::Hello* out) {
  out->set_protocol_version(h.protocol_version);
  out->set_node_id(h.node_id);
  out->set_site(h.site);
  out->set_epoch(h.epoch);
  out->set_capabilities(0);
  out->set_peer_epoch(h.peer_epoch);
  out->set_next_expected(h.next_expected);
  out->set_lb_checksum(h.lb_checksum);
}

std::string hostBytes(const IpAddress& a) {
  return std::string(reinterpret_cast<const char*>(a.bytes.data()), a.size());
}

// 4 bytes: IPv4, 16: IPv6; anything else is not a host address.
std::optional<IpAddress> hostFromBytes(const std::string& b) {
  if (b.size() != 4 && b.size() != 16) return std::nullopt;
  IpAddress a;
  a.family = b.size() == 4 ? Family::kIpv4 : Family::kIpv6;
  std::copy(b.begin(), b.end(), a.bytes.begin());
  return a;
}

Result<SyncMessage, FrameFault> claimFromProto(const v1::HostClaim& in) {
  const auto host = hostFromBytes(in.host());
  if (!host || in.move_seq() == 0 || in.node_id() == 0 ||
      (!in.mac().empty() && in.mac().size() != 6)) {
    return fail(fault(FrameError::kBadHostMessage));
  }
  HostClaimMsg m{.host = *host, .mac = std::nullopt, .move_seq = in.move_seq(),
                 .node_id = in.node_id()};
  if (!in.mac().empty()) {
    MacBytes mac{};
    std::copy(in.mac().begin(), in.mac().end(), mac.begin());
    m.mac = mac;
  }
  return SyncMessage{m};
}

Result<SyncMessage, FrameFault> releaseFromProto(const v1::HostRelease& in) {
  const auto host = hostFromBytes(in.host());
  if (!host || in.move_seq() == 0 || in.node_id() == 0) {
    return fail(fault(FrameError::kBadHostMessage));
  }
  return SyncMessage{
      HostReleaseMsg{.host = *host, .move_seq = in.move_seq(), .node_id = in.node_id()}};
}

void itemToProto(const Item& item, v1::Item* out) {
  switch (item.kind) {
    case Item::Kind::kUpsert:
      toProto(item.session, out->mutable_upsert());
      break;
    case Item::Kind::kRemove:
      toProto(keyOf(item.session), out->mutable_remove());
      break;
    case Item::Kind::kBulkBegin:
      out->mutable_bulk_begin()->set_bulk_id(item.bulk_id);
      break;
    case Item::Kind::kBulkEnd:
      out->mutable_bulk_end()->set_bulk_id(item.bulk_id);
      out->mutable_bulk_end()->set_sessions(item.bulk_sessions);
      break;
  }
  out->set_stream_start(item.stream_start);
}

void itemsToProto(const ItemsMsg& m, v1::Items* out) {
  out->set_epoch(m.epoch);
  out->set_first_seq(m.first_seq);
  out->mutable_items()->Reserve(static_cast<int>(m.items.size()));
  for (const Item& item : m.items) itemToProto(item, out->add_items());
}

// Epoch 0 means "no stream" (Hello.peer_epoch), so no stream can be numbered 0.
Result<SyncMessage, FrameFault> helloFromProto(const v1::Hello& in) {
  if (in.protocol_version() != kProtocolVersion) return fail(fault(FrameError::kBadVersion));
  if (in.node_id() == 0 || in.epoch() == 0 || in.site().size() > kMaxSiteLength) {
    return fail(fault(FrameError::kBadHello));
  }
  return SyncMessage{HelloMsg{.protocol_version = in.protocol_version(),
                              .node_id = in.node_id(),
                              .site = in.site(),
                              .epoch = in.epoch(),
                              .peer_epoch = in.peer_epoch(),
                              .next_expected = in.next_expected(),
                              .lb_checksum = in.lb_checksum()}};
}

Result<Item, FrameFault> itemFromProto(const v1::Item& in) {
  Item item;
  item.stream_start = in.stream_start();
  switch (in.kind_case()) {
    case v1::Item::kUpsert: {
      auto s = fromProto(in.upsert());
      if (!s) return fail(FrameFault{.error = FrameError::kBadSession, .session = s.error()});
      item.kind = Item::Kind::kUpsert;
      item.session = std::move(*s);
      break;
    }
    case v1::Item::kRemove: {
      auto k = fromProto(in.remove());
      if (!k) return fail(FrameFault{.error = FrameError::kBadSession, .session = k.error()});
      item.kind = Item::Kind::kRemove;
      item.session.zone = k->zone;
      item.session.orig = k->orig;
      break;
    }
    case v1::Item::kBulkBegin:
      item.kind = Item::Kind::kBulkBegin;
      item.bulk_id = in.bulk_begin().bulk_id();
      break;
    case v1::Item::kBulkEnd:
      item.kind = Item::Kind::kBulkEnd;
      item.bulk_id = in.bulk_end().bulk_id();
      item.bulk_sessions = in.bulk_end().sessions();
      break;
    default:  // no kind, or one a newer peer added: the item cannot be applied in order
      return fail(fault(FrameError::kBadItems));
  }
  return item;
}

Result<SyncMessage, FrameFault> itemsFromProto(const v1::Items& in, size_t max_items) {
  if (in.epoch() == 0 || in.first_seq() == 0) return fail(fault(FrameError::kBadItems));
  const auto count = static_cast<size_t>(in.items_size());
  if (count > max_items) return fail(fault(FrameError::kTooManyItems));
  // The last item's sequence number must not wrap.
  if (count > 0 && in.first_seq() > std::numeric_limits<uint64_t>::max() - (count - 1)) {
    return fail(fault(FrameError::kBadItems));
  }
  ItemsMsg m{.epoch = in.epoch(), .first_seq = in.first_seq(), .items = {}};
  m.items.reserve(count);
  for (const v1::Item& pi : in.items()) {
    auto item = itemFromProto(pi);
    if (!item) return fail(item.error());
    m.items.push_back(std::move(*item));
  }
  return SyncMessage{std::move(m)};
}

}  // namespace

std::string_view frameErrorName(FrameError e) {
  switch (e) {
    case FrameError::kEmptyFrame:
      return "empty_frame";
    case FrameError::kFrameTooLarge:
      return "frame_too_large";
    case FrameError::kBadProtobuf:
      return "bad_protobuf";
    case FrameError::kNoBody:
      return "no_body";
    case FrameError::kBadVersion:
      return "bad_version";
    case FrameError::kBadHello:
      return "bad_hello";
    case FrameError::kBadItems:
      return "bad_items";
    case FrameError::kTooManyItems:
      return "too_many_items";
    case FrameError::kBadSession:
      return "bad_session";
    case FrameError::kBadAck:
      return "bad_ack";
    case FrameError::kBadHostMessage:
      return "bad_host_message";
  }
  return "unknown";  // not reached for a valid enumerator; keeps -Wreturn-type quiet
}

void toProto(const SyncMessage& m, v1::Frame* out) {
  out->Clear();
  std::visit(
      [out](const auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, HelloMsg>) {
          helloToProto(msg, out->mutable_hello());
        } else if constexpr (std::is_same_v<T, ItemsMsg>) {
          itemsToProto(msg, out->mutable_items());
        } else if constexpr (std::is_same_v<T, AckMsg>) {
          out->mutable_ack()->set_epoch(msg.epoch);
          out->mutable_ack()->set_seq(msg.seq);
        } else if constexpr (std::is_same_v<T, ResyncRequestMsg>) {
          out->mutable_resync_request()->set_reason(msg.reason);
        } else if constexpr (std::is_same_v<T, HostClaimMsg>) {
          auto* c = out->mutable_host_claim();
          c->set_host(hostBytes(msg.host));
          if (msg.mac) c->set_mac(std::string(msg.mac->begin(), msg.mac->end()));
          c->set_move_seq(msg.move_seq);
          c->set_node_id(msg.node_id);
        } else {
          static_assert(std::is_same_v<T, HostReleaseMsg>);
          auto* r = out->mutable_host_release();
          r->set_host(hostBytes(msg.host));
          r->set_move_seq(msg.move_seq);
          r->set_node_id(msg.node_id);
        }
      },
      m);
}

Result<SyncMessage, FrameFault> fromProto(const v1::Frame& in, size_t max_items) {
  switch (in.body_case()) {
    case v1::Frame::kHello:
      return helloFromProto(in.hello());
    case v1::Frame::kItems:
      return itemsFromProto(in.items(), max_items);
    case v1::Frame::kAck:
      if (in.ack().epoch() == 0) return fail(fault(FrameError::kBadAck));
      return SyncMessage{AckMsg{.epoch = in.ack().epoch(), .seq = in.ack().seq()}};
    case v1::Frame::kResyncRequest:
      return SyncMessage{ResyncRequestMsg{.reason = in.resync_request().reason()}};
    case v1::Frame::kHostClaim:
      return claimFromProto(in.host_claim());
    case v1::Frame::kHostRelease:
      return releaseFromProto(in.host_release());
    default:
      return fail(fault(FrameError::kNoBody));
  }
}

void encodeFrame(const SyncMessage& m, std::string& out) {
  v1::Frame frame;
  toProto(m, &frame);
  const size_t size = frame.ByteSizeLong();
  const size_t start = out.size();
  out.resize(start + kFrameHeaderBytes + size);
  auto* p = reinterpret_cast<uint8_t*>(out.data() + start);
  const auto len = static_cast<uint32_t>(size);
  p[0] = static_cast<uint8_t>(len >> 24);
  p[1] = static_cast<uint8_t>(len >> 16);
  p[2] = static_cast<uint8_t>(len >> 8);
  p[3] = static_cast<uint8_t>(len);
  frame.SerializeWithCachedSizesToArray(p + kFrameHeaderBytes);
}

FrameDecoder::FrameDecoder(size_t max_frame_bytes, size_t max_items)
    : max_frame_bytes_(std::min(max_frame_bytes, kMaxFrameLimit)),
      max_items_(max_items),
      arena_block_(std::make_unique_for_overwrite<char[]>(kArenaFirstBlock)) {
  google::protobuf::ArenaOptions options;
  options.initial_block = arena_block_.get();
  options.initial_block_size = kArenaFirstBlock;
  options.max_block_size = kArenaMaxBlock;
  arena_ = std::make_unique<google::protobuf::Arena>(options);
}

FrameDecoder::Decoded FrameDecoder::decode(std::span<const uint8_t>& input) {
  if (!fault_) {
    auto r = decodeOne(input);
    if (r.status != Status::kBad) return r;
  }
  // Nothing after a bad frame can be trusted: the rest of the stream is dropped unread.
  input = input.subspan(input.size());
  return Decoded{.status = Status::kBad, .message = {}, .fault = *fault_};
}

FrameDecoder::Decoded FrameDecoder::decodeOne(std::span<const uint8_t>& input) {
  while (header_fill_ < kFrameHeaderBytes) {
    if (input.empty()) return Decoded{};
    header_[header_fill_++] = input.front();
    input = input.subspan(1);
    if (header_fill_ < kFrameHeaderBytes) continue;
    // The length is judged before a single body byte is buffered.
    const uint32_t len = (uint32_t{header_[0]} << 24) | (uint32_t{header_[1]} << 16) |
                         (uint32_t{header_[2]} << 8) | uint32_t{header_[3]};
    if (len == 0) return failWith(fault(FrameError::kEmptyFrame));
    if (len > max_frame_bytes_) return failWith(fault(FrameError::kFrameTooLarge));
    body_size_ = len;
  }
  if (body_.empty() && input.size() >= body_size_) {
    // The whole body is in the caller's buffer: parse it in place instead of copying.
    const auto body = input.first(body_size_);
    input = input.subspan(body_size_);
    return finishBody(body);
  }
  const size_t take = std::min(body_size_ - body_.size(), input.size());
  body_.insert(body_.end(), input.begin(), input.begin() + static_cast<ptrdiff_t>(take));
  input = input.subspan(take);
  if (body_.size() < body_size_) return Decoded{};
  return finishBody(body_);
}

FrameDecoder::Decoded FrameDecoder::failWith(FrameFault f) {
  fault_ = f;
  header_fill_ = 0;
  body_size_ = 0;
  body_.clear();
  body_.shrink_to_fit();
  return Decoded{.status = Status::kBad, .message = {}, .fault = f};
}

FrameDecoder::Decoded FrameDecoder::finishBody(std::span<const uint8_t> body) {
  // fromProto copies everything out of the frame, so the arena is free again once it returns.
  struct ResetArena {
    google::protobuf::Arena& arena;
    ~ResetArena() { arena.Reset(); }
  } reset{*arena_};
  auto* frame = google::protobuf::Arena::CreateMessage<v1::Frame>(arena_.get());
  google::protobuf::io::CodedInputStream in(body.data(), static_cast<int>(body.size()));
  in.SetRecursionLimit(kMaxNesting);
  const bool parsed = frame->ParseFromCodedStream(&in) && in.ConsumedEntireMessage();
  header_fill_ = 0;
  body_size_ = 0;
  body_.clear();
  if (!parsed) return failWith(fault(FrameError::kBadProtobuf));
  auto m = fromProto(*frame, max_items_);
  if (!m) return failWith(m.error());
  return Decoded{.status = Status::kGood, .message = std::move(*m), .fault = {}};
}

}  // namespace gwsync::syncd
