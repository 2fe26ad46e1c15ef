// One connection to the peer: a read loop that decodes frames and a write queue that coalesces
// frames into one write at a time. Runs on the io_context's thread. Held by shared_ptr: each
// pending operation keeps it alive, so the owner may drop it (or be destroyed) at any time after
// detach(). Knows nothing of dialing, accepting or reconnecting: that is PeerChannel's job.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "syncd/core/sync_messages.h"
#include "syncd/net/peer_channel_stats.h"
#include "syncd/net/transport.h"
#include "syncd/wire/frame_codec.h"

namespace gwsync::syncd {

class PeerConnection : public std::enable_shared_from_this<PeerConnection> {
 public:
  // Receives the connection's events, from completion handlers only (never from inside a call to
  // the connection) and never after detach() or after connectionLost.
  class Owner {
   public:
    virtual void connectionReady(PeerConnection& c) = 0;
    virtual void connectionMessage(PeerConnection& c, SyncMessage&& m) = 0;
    // The write queue fell below half of max_queued_bytes after send() had refused a frame.
    virtual void connectionDrained(PeerConnection& c) = 0;
    virtual void connectionLost(PeerConnection& c, DisconnectReason r, std::string detail) = 0;

   protected:
    ~Owner() = default;
  };

  struct Limits {
    size_t max_frame_bytes = kDefaultMaxFrameBytes;
    size_t max_items = kDefaultMaxItemsPerFrame;
    size_t max_queued_bytes = size_t{32} << 20;
  };

  enum class SendResult : uint8_t { kQueued, kFull, kTooLarge, kClosed };

  // `owner` and `stats` must outlive the connection or its detach(), whichever comes first.
  PeerConnection(std::unique_ptr<Transport> transport, Limits limits, Owner& owner,
                 PeerChannelStats& stats);

  // Handshake, then connectionReady, then the read loop.
  void start();
  // Queues one frame. Once a frame is refused as kFull, every send is refused until the queue
  // has drained below half (connectionDrained), so the caller sees one clear on/off signal.
  SendResult send(const SyncMessage& m);
  bool writable() const { return owner_ != nullptr && !blocked_; }
  // Bytes accepted but not yet written, including the write in flight.
  size_t queuedBytes() const { return pending_.size() + writing_.size(); }
  // Closes the stream without reporting anything to the owner.
  void detach();

 private:
  void readSome();
  void onRead(const boost::system::error_code& ec, size_t n);
  void writeNext();
  void onWritten(const boost::system::error_code& ec, size_t n);
  // Closes the stream and reports it: the single exit for failures found by the connection.
  void lose(DisconnectReason r, std::string detail);

  std::unique_ptr<Transport> transport_;
  Limits limits_;
  Owner* owner_;  // null once detached or lost
  PeerChannelStats* stats_;
  FrameDecoder decoder_;
  std::vector<uint8_t> read_buffer_;
  std::string pending_;  // frames queued behind the write in flight
  std::string writing_;  // the write in flight
  bool write_in_flight_ = false;
  bool blocked_ = false;
};

}  // namespace gwsync::syncd
