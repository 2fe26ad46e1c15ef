// The reference the adapter benchmark measures against: the least libmnl code that inserts
// IPv4 TCP conntrack entries through ctnetlink (NLM_F_ACK on every request, many requests per
// sendmsg, every ack read) and reads conntrack events (recv + mnl_cb_run, tuples only).
// No Session, no retries, no error mapping: what the adapter costs on top of this is its own.
// Plain C style on purpose; the caller owns the sockets and closes them with mnl_socket_close.
#pragma once

#include <cstddef>
#include <cstdint>

struct mnl_socket;

namespace gwsync::bench {

inline constexpr uint32_t kRawTimeoutSeconds = 3600;  // long enough to outlive a run
inline constexpr uint8_t kRawTcpEstablished = 3;      // TCP_CONNTRACK_ESTABLISHED

// One IPv4 TCP connection. Addresses in network byte order, ports in host byte order.
struct RawTcpEntry {
  uint32_t src, dst;
  uint16_t sport, dport;
  uint32_t snat_addr;  // 0: no NAT; else the original source becomes snat_addr:snat_port
  uint16_t snat_port;
};

struct RawInsertResult {
  size_t acked;     // requests the kernel acked with 0
  size_t failed;    // requests the kernel refused
  int first_error;  // errno of the first refused request
  int sock_error;   // errno of a failed sendmsg/recv (the insert stopped there), or 0
};

// A request socket whose send buffer takes batch_bytes in one sendmsg. nullptr on failure.
mnl_socket* rawOpenRequestSocket(size_t batch_bytes);
// Creates every entry: status SEEN_REPLY|ASSURED, kRawTimeoutSeconds, TCP ESTABLISHED.
RawInsertResult rawInsert(mnl_socket* nl, const RawTcpEntry* entries, size_t n, size_t batch_bytes);

// Order-independent digest of tuples, so the benchmark can check that the raw reader and the
// adapter parsed the same events.
inline uint64_t rawTupleDigest(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport) {
  return (uint64_t{src} * 0x9e3779b1u) ^ (uint64_t{dst} << 17) ^ (uint64_t{sport} << 48) ^
         (uint64_t{dport} << 3);
}

struct RawEventCounts {
  size_t news;      // IPCTNL_MSG_CT_NEW with NLM_F_CREATE, both tuples parsed
  size_t other;     // any other message, or a NEW without both tuples
  size_t overruns;  // ENOBUFS from recv
  uint64_t digest;  // sum of rawTupleDigest over the orig and reply tuples of every NEW
};

// A socket subscribed to conntrack NEW, UPDATE and DESTROY with a forced receive buffer.
mnl_socket* rawOpenEventSocket(int receive_buffer);
// Reads until the socket is empty.
RawEventCounts rawDrainEvents(mnl_socket* nl);

}  // namespace gwsync::bench
