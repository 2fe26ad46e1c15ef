// The sync protocol's messages as plain values: what the protocol state machine consumes and
// produces. syncd/wire/frame_codec converts them to and from the protobuf Frame on the wire
// (proto/gwsync.proto documents the protocol).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "syncd/core/session.h"

namespace gwsync::syncd {

inline constexpr uint32_t kProtocolVersion = 1;
// Limits the wire codec enforces and the config checks too (the config does not link the codec).
inline constexpr size_t kMaxSiteLength = 64;    // HelloMsg::site, and node.site in gwsync.toml
inline constexpr size_t kFrameHeaderBytes = 4;  // the big-endian length before every frame

struct HelloMsg {
  uint32_t protocol_version = kProtocolVersion;
  uint32_t node_id = 0;
  std::string site{};
  uint64_t epoch = 0;          // the sender's stream
  uint64_t peer_epoch = 0;     // the receiver's stream the sender holds state for; 0: none
  uint64_t next_expected = 0;  // next sequence number the sender expects in that stream
  uint64_t lb_checksum = 0;    // the sender's load-balancer tables; 0: none configured
  bool operator==(const HelloMsg&) const = default;
};

struct Item {
  enum class Kind : uint8_t { kUpsert, kRemove, kBulkBegin, kBulkEnd };
  Kind kind = Kind::kUpsert;
  Session session{};           // kUpsert: the session; kRemove: only zone and orig are used
  uint64_t bulk_id = 0;        // kBulkBegin, kBulkEnd
  uint64_t bulk_sessions = 0;  // kBulkEnd: how many upserts the bulk carried
  bool stream_start = false;   // the first item of a new stream
  bool operator==(const Item&) const = default;
};

struct ItemsMsg {
  uint64_t epoch = 0;
  uint64_t first_seq = 0;
  std::vector<Item> items{};
  bool operator==(const ItemsMsg&) const = default;
};

struct AckMsg {
  uint64_t epoch = 0;
  uint64_t seq = 0;
  bool operator==(const AckMsg&) const = default;
};

struct ResyncRequestMsg {
  uint32_t reason = 0;
  bool operator==(const ResyncRequestMsg&) const = default;
};

using MacBytes = std::array<uint8_t, 6>;

// Mobility (see proto/gwsync.proto HostClaim / HostRelease).
struct HostClaimMsg {
  IpAddress host{};
  std::optional<MacBytes> mac{};
  uint64_t move_seq = 0;
  uint32_t node_id = 0;
  bool operator==(const HostClaimMsg&) const = default;
};

struct HostReleaseMsg {
  IpAddress host{};
  uint64_t move_seq = 0;
  uint32_t node_id = 0;
  bool operator==(const HostReleaseMsg&) const = default;
};

using SyncMessage =
    std::variant<HelloMsg, ItemsMsg, AckMsg, ResyncRequestMsg, HostClaimMsg, HostReleaseMsg>;

}  // namespace gwsync::syncd
