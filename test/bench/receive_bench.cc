// gwsync-bench-receive: the user-space cost of a peer session at the receiving gateway, without
// the kernel: frame decoding (FrameDecoder), the peer screen (PeerScreen with the policy of
// sync_bench.sh's configuration) and the sync engine (SyncEngine::onMessage), up to the
// KernelChange the daemon would write. The load is sync_bench.sh's: established TCP sessions
// 192.0.2.0/24 -> 203.0.113.0/24:443, SNATed to 198.51.100.100, in Items frames of 512.
//
//   gwsync-bench-receive [--sessions N] [--runs R]
//
// Each run starts from a fresh engine; CPU time of this process (CLOCK_PROCESS_CPUTIME_ID), so
// a busy machine stretches the wall clock but not the figure much. Prints, per phase, the median
// ns per session over the runs. "new": every session unknown to B (live replication, bulk into
// an empty B); "update": the same sessions again with a higher version (refreshes, a second
// bulk). It checks what it measures: every session must come out as one change of the right
// kind, or it fails.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "syncd/app/peer_screen.h"
#include "syncd/app/peer_validation.h"
#include "syncd/app/session_filter.h"
#include "syncd/core/prefix.h"
#include "syncd/core/sync_engine.h"
#include "syncd/wire/frame_codec.h"

using namespace gwsync::syncd;

namespace {

constexpr size_t kItemsPerFrame = 512;  // SyncEngine::Options::max_items_per_frame

double cpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

Session synthetic(uint32_t u, uint64_t version) {
  Session s;
  s.orig.proto = l4::kTcp;
  s.orig.src = IpAddress::v4(192, 0, 2, static_cast<uint8_t>(1 + u % 250));
  s.orig.dst = IpAddress::v4(203, 0, 113, static_cast<uint8_t>(1 + (u / 64000) % 250));
  s.orig.src_port = static_cast<uint16_t>(1024 + u % 64000);
  s.orig.dst_port = 443;
  s.reply = invert(s.orig);
  s.reply.dst = IpAddress::v4(198, 51, 100, 100);
  s.status = status::kSeenReply | status::kAssured;
  s.timeout = 3600;
  s.tcp = TcpInfo{.state = 3};  // ESTABLISHED
  s.owner = 1;
  s.version = version;
  return s;
}

// The byte stream gw-a sends: frames of kItemsPerFrame upserts, sequence numbers from first_seq.
std::string stream(size_t n, uint64_t first_seq, uint64_t version) {
  std::string out;
  for (size_t i = 0; i < n; i += kItemsPerFrame) {
    ItemsMsg m{.epoch = 7, .first_seq = first_seq + i, .items = {}};
    for (size_t k = i; k < std::min(n, i + kItemsPerFrame); ++k) {
      Item item;
      item.session = synthetic(static_cast<uint32_t>(k), version);
      item.stream_start = k == 0 && first_seq == 1;
      m.items.push_back(std::move(item));
    }
    encodeFrame(SyncMessage(std::move(m)), out);
  }
  return out;
}

// Feeds `bytes` through decoder, screen and engine as the daemon does; returns the changes of
// the given kind (anything else is a failure of the benchmark).
size_t receive(const std::string& bytes, FrameDecoder& decoder, PeerScreen& screen,
               const PeerPolicy& policy, SyncEngine& engine, KernelChange::Kind want) {
  std::span<const uint8_t> input(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  size_t changes = 0;
  while (!input.empty()) {
    auto d = decoder.decode(input);
    if (d.status != FrameDecoder::Status::kGood) {
      std::fprintf(stderr, "gwsync-bench-receive: frame not decoded\n");
      std::exit(1);
    }
    auto& items = std::get<ItemsMsg>(d.message);
    const SyncReceiver& rcv = engine.receiver();
    screen.screen(items, policy,
                  {.peer_epoch = rcv.peerEpoch(),
                   .next_expected = rcv.nextExpected(),
                   .table = &engine.peerSessions()},
                  {});
    engine.onMessage(SyncMessage(std::move(items)), Millis{1000});
    for (const KernelChange& c : engine.takeKernelChanges()) {
      if (c.kind != want || c.origin != KernelChange::Origin::kPeer) {
        std::fprintf(stderr, "gwsync-bench-receive: unexpected change\n");
        std::exit(1);
      }
      ++changes;
    }
  }
  return changes;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = 100000;
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--sessions" && i + 1 < argc) {
      n = std::strtoul(argv[++i], nullptr, 10);
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: gwsync-bench-receive [--sessions N] [--runs R]\n");
      return 2;
    }
  }
  if (n == 0 || runs < 1) {
    std::fprintf(stderr, "gwsync-bench-receive: --sessions and --runs must be positive\n");
    return 2;
  }
  const std::string fresh = stream(n, 1, 1);
  const std::string again = stream(n, 1 + n, 2);
  SessionFilter filter;
  filter.include = {*parsePrefix("192.0.2.0/24")};
  filter.protocols = ProtocolSet{};
  filter.protocols.set(l4::kTcp);
  const PeerPolicy policy{.peer_id = 1, .filter = &filter};

  std::vector<double> t_new, t_update;
  for (int r = 0; r < runs; ++r) {
    SyncEngine engine(SyncEngine::Options{.node_id = 2, .peer_id = 1});
    FrameDecoder decoder;
    PeerScreen screen(PeerScreen::Options{});
    double t0 = cpuNow();
    const size_t created = receive(fresh, decoder, screen, policy, engine, KernelChange::Kind::kCreate);
    double t1 = cpuNow();
    const size_t updated = receive(again, decoder, screen, policy, engine, KernelChange::Kind::kUpdate);
    double t2 = cpuNow();
    if (created != n || updated != n || engine.peerSessions().size() != n) {
      std::fprintf(stderr, "gwsync-bench-receive: %zu created, %zu updated, %zu held of %zu\n",
                   created, updated, engine.peerSessions().size(), n);
      return 1;
    }
    t_new.push_back((t1 - t0) / static_cast<double>(n));
    t_update.push_back((t2 - t1) / static_cast<double>(n));
  }
  std::printf("receive %zu sessions, median of %d runs: new %.0f ns/session, update %.0f ns/session\n",
              n, runs, median(t_new), median(t_update));
  return 0;
}
