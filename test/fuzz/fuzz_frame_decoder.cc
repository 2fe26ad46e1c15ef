// Fuzz target: bytes from the network into the frame decoder, delivered in pieces whose sizes
// the input chooses. Whatever comes in must end as frames or one clean rejection, never a crash,
// a hang or a buffer beyond the frame limit; an accepted message must encode again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "syncd/wire/frame_codec.h"

namespace gs = gwsync::syncd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // First byte: the size of the pieces the stream is cut into (1..256 bytes).
  const size_t piece = size_t{data[0]} + 1;
  std::span<const uint8_t> rest(data + 1, size - 1);
  constexpr size_t kMaxFrame = 64 * 1024;
  gs::FrameDecoder decoder(kMaxFrame, 1024);
  while (!rest.empty()) {
    std::span<const uint8_t> chunk = rest.first(std::min(piece, rest.size()));
    rest = rest.subspan(chunk.size());
    for (;;) {
      auto d = decoder.decode(chunk);
      if (decoder.buffered() > kMaxFrame + gs::kFrameHeaderBytes) std::abort();
      if (d.status == gs::FrameDecoder::Status::kBad) return 0;
      if (d.status == gs::FrameDecoder::Status::kNeedMore) break;
      std::string again;
      gs::encodeFrame(d.message, again);
      if (again.size() < gs::kFrameHeaderBytes) std::abort();
    }
  }
  return 0;
}
