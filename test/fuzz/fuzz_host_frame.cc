// Fuzz target: any bytes a LAN can deliver to the detection socket, into the host frame parser.
// Every input parses or is rejected with exactly one reason, never read outside the buffer; a
// parsed frame always names a unicast host MAC (the parser's promise to the adapter).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "syncd/core/host_frame.h"

namespace gs = gwsync::syncd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gs::FrameParseStats stats;
  auto frame = gs::parseHostFrame(std::span<const uint8_t>(data, size), stats);
  if (stats.parsed + stats.rejectedTotal() != 1) std::abort();
  if (!frame) return 0;
  if (frame->mac.isZero() || frame->mac.isMulticast()) std::abort();
  std::string text = std::string(gs::toString(frame->kind)) + frame->mac.toString() +
                     frame->eth_src.toString() + frame->eth_dst.toString();
  if (frame->ip) text += frame->ip->toString();
  if (frame->target_ip) text += frame->target_ip->toString();
  return text.empty() ? 1 : 0;
}
