// ConntrackWriter: writes sessions into the kernel's conntrack table in batches.
// Owns one netlink request socket; used from one thread (the daemon's commit path).
//
// Many requests go out in one sendmsg; the kernel handles them in order inside that call and
// reports each failing one, so a batch costs one syscall plus one per failure. Kernel races are
// repaired the way conntrackd does: EEXIST on create becomes an update, ENOENT on update a
// create. Events caused by these writes carry portId(), so the event source can skip them.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "syncd/core/result.h"
#include "syncd/core/session.h"
#include "syncd/kernel/ct_message.h"
#include "syncd/kernel/netlink_socket.h"

namespace gwsync::syncd {

struct CtWrite {
  CtOp op;
  const Session* session;  // not owned; must outlive apply()
};

struct CtWriteResult {
  int error = 0;            // 0, or the errno the kernel reported for the final attempt
  CtOp done = CtOp::kCreate;  // what the final attempt was (after EEXIST/ENOENT fallback)
};

struct CtWriterStats {
  uint64_t requests = 0;   // messages sent, retries included
  uint64_t batches = 0;    // sendmsg calls
  uint64_t exists_to_update = 0;
  uint64_t missing_to_create = 0;
  uint64_t failed = 0;     // entries whose final attempt failed
  std::array<uint64_t, 3> failed_by_op{};  // indexed by CtOp
};

class ConntrackWriter {
 public:
  struct Options {
    size_t batch_bytes = 256 * 1024;        // requests per sendmsg, by size
    int receive_buffer = 8 * 1024 * 1024;   // room for every error report of a batch
    bool ack_every_request = false;         // one ack per request instead of per batch
  };

  static Result<ConntrackWriter, std::string> open(const Options& options);

  // Applies writes in order; result i belongs to write i. Never throws.
  std::vector<CtWriteResult> apply(std::span<const CtWrite> writes);

  uint32_t portId() const { return sock_.portId(); }
  const CtWriterStats& stats() const { return stats_; }

 private:
  ConntrackWriter(NetlinkSocket sock, Options options);
  // Sends writes[idx[0..]] as batches; fills results for those indices.
  void run(std::span<const CtWrite> writes, const std::vector<size_t>& idx,
           std::vector<CtWriteResult>& results, bool retry);
  // Sends buf as one batch of n requests numbered first_seq.., collects per-request errors.
  int sendBatch(size_t len, uint32_t first_seq, size_t n, std::vector<int>& errors);

  NetlinkSocket sock_;
  Options options_;
  std::vector<uint8_t> buf_;
  std::vector<uint8_t> rx_;
  uint32_t seq_ = 1;
  CtWriterStats stats_;
};

}  // namespace gwsync::syncd
