// Fuzz target: decode -> validate -> apply. Frames from a hostile peer go through the decoder into
// a sync engine, and what the engine wants written goes into a fake kernel table. Nothing may
// crash, and every kernel write must carry a session the codec accepted (supported protocol,
// consistent families), with the peer-copy bit set on the peer's sessions.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <span>

#include "syncd/core/sync_engine.h"
#include "syncd/wire/frame_codec.h"

namespace gs = gwsync::syncd;

namespace {

void checkWrite(const gs::KernelChange& c) {
  const gs::Session& s = c.session;
  if (!gs::isSupportedL4(s.orig.proto)) std::abort();
  if (c.kind == gs::KernelChange::Kind::kRemove) return;
  if (s.orig.proto != s.reply.proto || s.orig.src.family != s.reply.dst.family) std::abort();
  if (c.origin == gs::KernelChange::Origin::kPeer && (s.mark & gs::kPeerMark) == 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gs::SyncEngine engine(gs::SyncEngine::Options{.node_id = 2, .peer_id = 1, .epoch = 5});
  gs::Millis now{1000};
  engine.onConnected(now);
  // The fuzzer does not have to guess a valid Hello: the peer has introduced itself.
  gs::HelloMsg hello;
  hello.node_id = 1;
  hello.epoch = 7;
  engine.onMessage(hello, now);
  std::map<gs::SessionKey, gs::Session> kernel;
  gs::FrameDecoder decoder(64 * 1024, 1024);
  std::span<const uint8_t> in(data, size);
  while (!in.empty()) {
    auto d = decoder.decode(in);
    if (d.status != gs::FrameDecoder::Status::kGood) break;
    now += gs::Millis{10};
    if (!engine.onMessage(d.message, now)) break;
    for (const auto& c : engine.takeKernelChanges()) {
      checkWrite(c);
      if (c.kind == gs::KernelChange::Kind::kRemove) {
        kernel.erase(gs::keyOf(c.session));
      } else {
        kernel[gs::keyOf(c.session)] = c.session;
      }
    }
    (void)engine.poll(now);
  }
  if (kernel.size() != engine.peerSessions().size()) std::abort();
  return 0;
}
