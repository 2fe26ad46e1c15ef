// Framing of the sync channel: every frame is a 4-byte big-endian length followed by one
// v1::Frame (proto/gwsync.proto), converted to and from the plain SyncMessage values of
// syncd/core/sync_messages.h. Pure: bytes in, values out; no I/O, no clocks, no logging.
//
// Everything a peer sends is outside input: FrameDecoder checks the length before it buffers a
// body, parses with a bounded parser and validates every field before a message reaches the
// protocol. A bad frame yields one FrameError that the caller counts by frameErrorName() and then
// closes the connection; nothing here throws or asserts on input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gwsync.pb.h"
#include "syncd/core/result.h"
#include "syncd/core/sync_messages.h"
#include "syncd/wire/session_codec.h"

namespace gwsync::syncd {

// kFrameHeaderBytes and kMaxSiteLength are in syncd/core/sync_messages.h: the config checks them.
inline constexpr size_t kDefaultMaxFrameBytes = size_t{1} << 20;
inline constexpr size_t kDefaultMaxItemsPerFrame = 65536;

// Why a frame was rejected. One value per reason; the values label a drop counter, so the set is
// bounded and frameErrorName() of each value never changes once released.
enum class FrameError : uint8_t {
  kEmptyFrame,     // length prefix 0
  kFrameTooLarge,  // length prefix above the decoder's max_frame_bytes
  kBadProtobuf,    // the body does not parse as a v1::Frame
  kNoBody,         // no body set (or only one this build does not know)
  kBadVersion,     // Hello.protocol_version is not kProtocolVersion
  kBadHello,       // Hello with node_id 0, epoch 0 or a site longer than kMaxSiteLength
  kBadItems,       // Items with epoch 0 or first_seq 0, a last sequence number past 2^64-1, or
                   // an item without a kind
  kTooManyItems,   // more items than the decoder's max_items
  kBadSession,     // an upsert or remove failed fromProto; FrameFault::session says why
  kBadAck,         // Ack with epoch 0
  kBadHostMessage, // HostClaim/HostRelease: host not 4 or 16 bytes, move_seq or node_id 0, or a
                   // MAC that is neither empty nor 6 bytes
};

inline constexpr size_t kFrameErrorCount = static_cast<size_t>(FrameError::kBadHostMessage) + 1;

// A short, stable snake_case name for metrics labels and logs, e.g. "frame_too_large".
std::string_view frameErrorName(FrameError e);

struct FrameFault {
  FrameError error = FrameError::kBadProtobuf;
  std::optional<DecodeError> session;  // set for kBadSession only
  bool operator==(const FrameFault&) const = default;
};

// Message <-> protobuf. fromProto validates as described in FrameError; max_items bounds an
// Items message.
void toProto(const SyncMessage& m, v1::Frame* out);
Result<SyncMessage, FrameFault> fromProto(const v1::Frame& in,
                                          size_t max_items = kDefaultMaxItemsPerFrame);

// Appends the length prefix and the serialized frame to `out`. The caller keeps frames within
// the receiver's max_frame_bytes (the peer closes the connection otherwise).
void encodeFrame(const SyncMessage& m, std::string& out);

// Incremental decoder for one connection's byte stream, in the shape of the Asio examples'
// request parser: decode() consumes bytes from the front of its input until a frame is complete
// (kGood), the stream is bad (kBad) or the input is used up (kNeedMore). A body is buffered only
// after its length passed the check, so memory stays within max_frame_bytes plus a header.
// After kBad the decoder stays failed: every later call returns the same fault and discards its
// input, since a stream cannot be resynchronised after a bad frame.
class FrameDecoder {
 public:
  enum class Status : uint8_t { kGood, kBad, kNeedMore };

  struct Decoded {
    Status status = Status::kNeedMore;
    SyncMessage message;  // kGood
    FrameFault fault;     // kBad
  };

  explicit FrameDecoder(size_t max_frame_bytes = kDefaultMaxFrameBytes,
                        size_t max_items = kDefaultMaxItemsPerFrame);

  // Advances `input` past the bytes it consumed (all of them on kBad). Call again while it
  // returns kGood.
  Decoded decode(std::span<const uint8_t>& input);

  bool failed() const { return fault_.has_value(); }
  // Bytes of the current, incomplete frame held so far (header included).
  size_t buffered() const { return header_fill_ + body_.size(); }

 private:
  Decoded decodeOne(std::span<const uint8_t>& input);
  Decoded failWith(FrameFault fault);
  Decoded finishBody(std::span<const uint8_t> body);

  size_t max_frame_bytes_;
  size_t max_items_;
  uint8_t header_[kFrameHeaderBytes] = {};
  size_t header_fill_ = 0;
  size_t body_size_ = 0;  // from the header once it is complete
  std::vector<uint8_t> body_;
  std::optional<FrameFault> fault_;
  // Every frame is parsed on this arena and the arena is reset once the frame is converted:
  // an Items frame of 512 sessions is some 5000 protobuf objects and strings, one malloc and
  // free each without it. The first block is kept across resets (see frame_codec.cc).
  std::unique_ptr<char[]> arena_block_;
  std::unique_ptr<google::protobuf::Arena> arena_;
};

}  // namespace gwsync::syncd
