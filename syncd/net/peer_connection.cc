#include "syncd/net/peer_connection.h"

#include <boost/asio/error.hpp>
#include <span>
#include <utility>

#include "syncd/net/tls_error.h"

namespace gwsync::syncd {

namespace {

// Large enough that a burst of items arrives in a few reads, small enough to keep per
// connection memory modest next to the frame buffer.
constexpr size_t kReadBufferBytes = 64 * 1024;

}  // namespace

PeerConnection::PeerConnection(std::unique_ptr<Transport> transport, Limits limits, Owner& owner,
                               PeerChannelStats& stats)
    : transport_(std::move(transport)),
      limits_(limits),
      owner_(&owner),
      stats_(&stats),
      decoder_(limits.max_frame_bytes, limits.max_items),
      read_buffer_(kReadBufferBytes) {}

void PeerConnection::start() {
  transport_->asyncHandshake([self = shared_from_this()](const boost::system::error_code& ec) {
    if (self->owner_ == nullptr) return;
    if (ec) {
      std::string detail = "handshake: " + ec.message();
      if (auto tls = tlsErrorOf(ec)) ++self->stats_->tls_errors[static_cast<size_t>(*tls)];
      if (auto more = self->transport_->handshakeDetail(); !more.empty()) detail += ": " + more;
      self->lose(DisconnectReason::kReadError, std::move(detail));
      return;
    }
    self->owner_->connectionReady(*self);
    // Reading starts only now, so no message can reach the owner before it saw the connection up.
    if (self->owner_ != nullptr) self->readSome();
  });
}

PeerConnection::SendResult PeerConnection::send(const SyncMessage& m) {
  if (owner_ == nullptr) return SendResult::kClosed;
  if (blocked_) return SendResult::kFull;
  // Encoding in place and taking the frame back on refusal avoids a copy per accepted frame.
  const size_t before = pending_.size();
  encodeFrame(m, pending_);
  const size_t frame = pending_.size() - before;
  if (frame - kFrameHeaderBytes > limits_.max_frame_bytes) {
    pending_.resize(before);
    return SendResult::kTooLarge;
  }
  if (queuedBytes() > limits_.max_queued_bytes) {
    pending_.resize(before);
    blocked_ = true;
    return SendResult::kFull;
  }
  writeNext();
  return SendResult::kQueued;
}

void PeerConnection::detach() {
  owner_ = nullptr;
  transport_->close();
}

void PeerConnection::readSome() {
  transport_->asyncReadSome(boost::asio::buffer(read_buffer_),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        size_t n) { self->onRead(ec, n); });
}

void PeerConnection::onRead(const boost::system::error_code& ec, size_t n) {
  if (owner_ == nullptr) return;
  if (ec) {
    const bool eof = ec == boost::asio::error::eof;
    lose(eof ? DisconnectReason::kPeerClosed : DisconnectReason::kReadError, ec.message());
    return;
  }
  stats_->bytes_in += n;
  std::span<const uint8_t> input(read_buffer_.data(), n);
  // The owner's handler may detach this connection (disconnect, stop, replacement): check
  // before every frame, and drop what is left once detached.
  while (owner_ != nullptr) {
    auto d = decoder_.decode(input);
    if (d.status == FrameDecoder::Status::kNeedMore) break;
    if (d.status == FrameDecoder::Status::kBad) {
      ++stats_->decode_errors[static_cast<size_t>(d.fault.error)];
      if (d.fault.session) ++stats_->session_errors[static_cast<size_t>(*d.fault.session)];
      lose(DisconnectReason::kDecodeError, std::string(frameErrorName(d.fault.error)));
      return;
    }
    ++stats_->frames_in;
    owner_->connectionMessage(*this, std::move(d.message));
  }
  if (owner_ != nullptr) readSome();
}

void PeerConnection::writeNext() {
  if (write_in_flight_ || pending_.empty() || owner_ == nullptr) return;
  std::swap(writing_, pending_);
  write_in_flight_ = true;
  transport_->asyncWrite(boost::asio::buffer(writing_),
                         [self = shared_from_this()](const boost::system::error_code& ec,
                                                     size_t n) { self->onWritten(ec, n); });
}

void PeerConnection::onWritten(const boost::system::error_code& ec, size_t n) {
  write_in_flight_ = false;
  if (owner_ == nullptr) return;
  stats_->bytes_out += n;
  if (ec) {
    lose(DisconnectReason::kWriteError, ec.message());
    return;
  }
  writing_.clear();
  // A burst can grow the buffer to max_queued_bytes; do not keep that much per idle connection.
  if (writing_.capacity() > 4 * limits_.max_frame_bytes) std::string().swap(writing_);
  writeNext();
  if (blocked_ && queuedBytes() < limits_.max_queued_bytes / 2) {
    blocked_ = false;
    owner_->connectionDrained(*this);
  }
}

void PeerConnection::lose(DisconnectReason r, std::string detail) {
  Owner* owner = std::exchange(owner_, nullptr);
  transport_->close();
  if (owner != nullptr) owner->connectionLost(*this, r, std::move(detail));
}

}  // namespace gwsync::syncd
