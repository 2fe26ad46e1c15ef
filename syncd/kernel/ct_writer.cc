#include "syncd/kernel/ct_writer.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>

namespace gwsync::syncd {

Result<ConntrackWriter, std::string> ConntrackWriter::open(const Options& options) {
  auto sock = NetlinkSocket::open(0);
  if (!sock) return fail("conntrack writer: " + sock.error());
  if (auto r = sock->setReceiveBuffer(options.receive_buffer, true); !r) {
    return fail("conntrack writer: " + r.error());
  }
  if (auto r = sock->setSendBuffer(static_cast<int>(options.batch_bytes) * 2, true); !r) {
    return fail("conntrack writer: " + r.error());
  }
  if (auto r = sock->capAcks(); !r) return fail("conntrack writer: " + r.error());
  // The kernel answers inside sendmsg, so a reply is always queued by the time we read; the
  // timeout only guards against a kernel bug turning into a hung daemon.
  timeval tv{5, 0};
  setsockopt(sock->fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return ConntrackWriter(std::move(*sock), options);
}

ConntrackWriter::ConntrackWriter(NetlinkSocket sock, Options options)
    : sock_(std::move(sock)), options_(options) {
  if (options_.batch_bytes < kMaxRequestSize) options_.batch_bytes = kMaxRequestSize;
  buf_.resize(options_.batch_bytes);
  rx_.resize(64 * 1024);
}

std::vector<CtWriteResult> ConntrackWriter::apply(std::span<const CtWrite> writes) {
  std::vector<CtWriteResult> results(writes.size());
  std::vector<size_t> idx(writes.size());
  for (size_t i = 0; i < writes.size(); ++i) {
    idx[i] = i;
    results[i].done = writes[i].op;
  }
  run(writes, idx, results, true);
  for (size_t i = 0; i < writes.size(); ++i) {
    if (results[i].error != 0) {
      ++stats_.failed;
      ++stats_.failed_by_op[static_cast<size_t>(results[i].done)];
    }
  }
  return results;
}

void ConntrackWriter::run(std::span<const CtWrite> writes, const std::vector<size_t>& idx,
                          std::vector<CtWriteResult>& results, bool retry) {
  std::vector<size_t> again;
  std::vector<int> errors;
  size_t pos = 0;
  while (pos < idx.size()) {
    size_t len = 0;
    size_t n = 0;
    const uint32_t first = seq_;
    // Fill the buffer; the request after which no further one is sure to fit is the last and
    // carries the ack that closes the batch.
    for (bool last = false; !last; ++n) {
      const size_t i = idx[pos + n];
      last = pos + n + 1 == idx.size() || len + 2 * kMaxRequestSize > buf_.size();
      len += buildRequest(results[i].done, *writes[i].session, seq_++,
                          options_.ack_every_request || last, std::span(buf_).subspan(len));
    }
    const int batch_error = sendBatch(len, first, n, errors);
    for (size_t k = 0; k < n; ++k) {
      const size_t i = idx[pos + k];
      const int err = batch_error != 0 ? batch_error : errors[k];
      results[i].error = err;
      if (!retry) continue;
      if (err == EEXIST && results[i].done == CtOp::kCreate) {
        results[i].done = CtOp::kUpdate;
        ++stats_.exists_to_update;
        again.push_back(i);
      } else if (err == ENOENT && results[i].done == CtOp::kUpdate) {
        results[i].done = CtOp::kCreate;
        ++stats_.missing_to_create;
        again.push_back(i);
      }
    }
    pos += n;
  }
  if (!again.empty()) run(writes, again, results, false);
}

int ConntrackWriter::sendBatch(size_t len, uint32_t first_seq, size_t n,
                               std::vector<int>& errors) {
  errors.assign(n, 0);
  ++stats_.batches;
  stats_.requests += n;
  if (mnl_socket_sendto(sock_.get(), buf_.data(), len) < 0) return errno;
  const uint32_t last_seq = first_seq + static_cast<uint32_t>(n) - 1;
  // Read error reports until the ack of the last request, which the kernel sends last.
  for (;;) {
    const ssize_t got = mnl_socket_recvfrom(sock_.get(), rx_.data(), rx_.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno;  // ENOBUFS: reports were lost, so no entry of the batch is known good
    }
    bool done = false;
    int remaining = static_cast<int>(got);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(rx_.data()); mnl_nlmsg_ok(nlh, remaining);
         nlh = mnl_nlmsg_next(nlh, &remaining)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      const uint32_t seq = nlh->nlmsg_seq;
      if (seq - first_seq < n) errors[seq - first_seq] = -err->error;
      if (seq == last_seq) done = true;
    }
    if (done) return 0;
  }
}

}  // namespace gwsync::syncd
