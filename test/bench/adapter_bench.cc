// gwsync-bench-adapter: how close the conntrack adapter (ConntrackWriter, ConntrackEventSource)
// comes to a minimal raw libmnl client (raw_inserter.h) on the same kernel, in the same run.
// It flushes the conntrack table, so it refuses to run outside a named network namespace:
// run-adapter-bench.sh makes one, with the nat table that SNAT entries need.
// Every insert is checked with a dump (exactly N entries, all translated when SNAT), and every
// event drain must deliver exactly N NEW events with the expected tuples and no overrun.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "syncd/kernel/ct_dump.h"
#include "syncd/kernel/ct_events.h"
#include "syncd/kernel/ct_writer.h"
#include "test/bench/raw_inserter.h"

namespace {

using namespace gwsync::syncd;  // NOLINT(google-build-using-namespace): one-file program
using namespace gwsync::bench;  // NOLINT(google-build-using-namespace)

constexpr size_t kBatchBytes = ConntrackWriter::Options{}.batch_bytes;  // same for raw
constexpr int kEventBuffer = 256 * 1024 * 1024;
constexpr uint32_t kSnatAddr = 0xc6336464;  // 198.51.100.100
constexpr double kGoal = 0.80;

struct Config {
  size_t entries = 100000;
  int runs = 5;
  std::string markdown;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "<3>gwsync-bench-adapter: %s\n", what.c_str());
  std::exit(1);
}

struct SocketCloser {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using RawSocket = std::unique_ptr<mnl_socket, SocketCloser>;

// Wall time and CPU time (user + sys, which includes the kernel's work for our syscalls).
class Stopwatch {
 public:
  Stopwatch() : wall_(std::chrono::steady_clock::now()), cpu_(cpuSeconds()) {}
  struct Sample {
    double rate;    // entries/s
    double cpu_us;  // CPU µs per entry
  };
  Sample stop(size_t entries) const {
    const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - wall_;
    const double n = static_cast<double>(entries);
    return {n / wall.count(), (cpuSeconds() - cpu_) * 1e6 / n};
  }

 private:
  static double cpuSeconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec * 1e-6; };
    return sec(ru.ru_utime) + sec(ru.ru_stime);
  }
  std::chrono::steady_clock::time_point wall_;
  double cpu_;
};
using Sample = Stopwatch::Sample;

// Entry i, distinct for i < 312500: the source host, destination host and destination port
// together encode i; with SNAT, destination host, destination port and NAT port do too, so the
// reply tuples are distinct as well.
RawTcpEntry entryFor(size_t i, bool snat) {
  static constexpr uint16_t kDports[] = {80, 443, 8080, 22, 25};
  RawTcpEntry e{};
  e.src = htonl(0xc0000200u | static_cast<uint32_t>(1 + i % 250));          // 192.0.2.x
  e.dst = htonl(0xcb007100u | static_cast<uint32_t>(1 + (i / 250) % 250));  // 203.0.113.x
  e.sport = static_cast<uint16_t>(1024 + (i * 7) % 64000);
  e.dport = kDports[i / 62500];
  if (snat) {
    e.snat_addr = htonl(kSnatAddr);
    e.snat_port = static_cast<uint16_t>(1024 + i % 64000);
  }
  return e;
}

std::vector<RawTcpEntry> rawEntries(size_t n, bool snat) {
  std::vector<RawTcpEntry> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = entryFor(i, snat);
  return out;
}

IpAddress v4(uint32_t network_order) {
  IpAddress a;
  std::memcpy(a.bytes.data(), &network_order, 4);
  return a;
}

// The same connections as the raw entries, as the daemon would hand them to the writer.
std::vector<Session> sessions(const std::vector<RawTcpEntry>& raw) {
  std::vector<Session> out(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    const RawTcpEntry& e = raw[i];
    Session& s = out[i];
    s.orig = Tuple{.src = v4(e.src),
                   .dst = v4(e.dst),
                   .proto = l4::kTcp,
                   .src_port = e.sport,
                   .dst_port = e.dport};
    s.reply = invert(s.orig);
    if (e.snat_addr != 0) {
      s.reply.dst = v4(e.snat_addr);
      s.reply.dst_port = e.snat_port;
    }
    s.status = status::kSeenReply | status::kAssured;
    s.timeout = kRawTimeoutSeconds;
    s.tcp = TcpInfo{.state = kRawTcpEstablished};
  }
  return out;
}

void flushOrDie() {
  if (auto r = flushConntrack(); !r) die(r.error());
}

// The kernel must hold exactly n entries, all source-translated to kSnatAddr when snat.
void expectEntries(size_t n, bool snat, const std::string& what) {
  ParseStats stats;
  size_t translated = 0;
  const IpAddress nat_addr = v4(htonl(kSnatAddr));
  auto dump = dumpConntrack(
      [&](Session&& s) {
        const auto nat = sourceNat(s);
        if (nat && nat->addr == nat_addr) ++translated;
      },
      stats);
  if (!dump) die(what + ": " + dump.error());
  if (dump->entries != n || dump->rejected != 0 || (snat && translated != n)) {
    die(what + ": the kernel holds " + std::to_string(dump->entries) + " entries (" +
        std::to_string(dump->rejected) + " unparseable, " + std::to_string(translated) +
        " source-translated), expected " + std::to_string(n));
  }
}

Sample rawInsertTimed(const std::vector<RawTcpEntry>& entries, const std::string& what) {
  RawSocket nl(rawOpenRequestSocket(kBatchBytes));
  if (!nl) die(what + ": raw request socket: " + std::strerror(errno));
  const Stopwatch watch;
  const RawInsertResult r = rawInsert(nl.get(), entries.data(), entries.size(), kBatchBytes);
  const Sample sample = watch.stop(entries.size());
  if (r.sock_error != 0) die(what + ": raw socket: " + std::strerror(r.sock_error));
  if (r.acked != entries.size()) {
    die(what + ": raw insert acked " + std::to_string(r.acked) + " of " +
        std::to_string(entries.size()) + ", first error: " + std::strerror(r.first_error));
  }
  return sample;
}

Sample adapterInsertTimed(const std::vector<Session>& list, bool ack_every_request,
                          const std::string& what) {
  auto writer = ConntrackWriter::open({.ack_every_request = ack_every_request});
  if (!writer) die(what + ": " + writer.error());
  std::vector<CtWrite> writes(list.size());
  for (size_t i = 0; i < list.size(); ++i) writes[i] = CtWrite{CtOp::kCreate, &list[i]};
  const Stopwatch watch;
  const std::vector<CtWriteResult> results = writer->apply(writes);
  const Sample sample = watch.stop(list.size());
  const CtWriterStats& st = writer->stats();
  if (st.failed != 0 || st.exists_to_update != 0 || st.requests != list.size()) {
    auto bad = std::find_if(results.begin(), results.end(), [](auto& r) { return r.error != 0; });
    die(what + ": adapter insert: " + std::to_string(st.failed) + " failed (" +
        (bad == results.end() ? "no error" : std::strerror(bad->error)) + "), " +
        std::to_string(st.exists_to_update) + " EEXIST, " + std::to_string(st.requests) +
        " requests for " + std::to_string(list.size()) + " entries");
  }
  return sample;
}

struct EventSamples {
  Sample raw;
  Sample adapter;
};

uint64_t expectedDigest(const std::vector<RawTcpEntry>& entries) {
  uint64_t digest = 0;
  for (const RawTcpEntry& e : entries) {
    digest += rawTupleDigest(e.src, e.dst, e.sport, e.dport) +
              rawTupleDigest(e.dst, e.src, e.dport, e.sport);
  }
  return digest;
}

// What the adapter delivered, in the raw reader's terms, so both are checked the same way.
void tally(std::span<const CtEvent> batch, RawEventCounts& counts) {
  for (const CtEvent& ev : batch) {
    if (ev.type != CtEventType::kNew) {
      ++counts.other;
      continue;
    }
    ++counts.news;
    for (const Tuple* t : {&ev.session.orig, &ev.session.reply}) {
      uint32_t src = 0, dst = 0;
      std::memcpy(&src, t->src.bytes.data(), 4);
      std::memcpy(&dst, t->dst.bytes.data(), 4);
      counts.digest += rawTupleDigest(src, dst, t->src_port, t->dst_port);
    }
  }
}

void expectEvents(const std::string& who, const RawEventCounts& c, size_t n, uint64_t digest) {
  if (c.news != n || c.other != 0 || c.overruns != 0 || c.digest != digest) {
    die("events: " + who + " got " + std::to_string(c.news) + " NEW of " + std::to_string(n) +
        ", " + std::to_string(c.other) + " other, " + std::to_string(c.overruns) + " overruns" +
        (c.digest != digest ? ", wrong tuples" : ""));
  }
}

// Both readers subscribe before the insert and read nothing during it; then each drains the
// same N queued NEW events, in alternating order across runs.
EventSamples eventsTimed(size_t n, bool raw_first) {
  const std::vector<RawTcpEntry> entries = rawEntries(n, false);
  RawSocket raw(rawOpenEventSocket(kEventBuffer));
  if (!raw) die(std::string("events: raw event socket: ") + std::strerror(errno));
  boost::asio::io_context io;
  ConntrackEventSource::Options options;
  options.receive_buffer = kEventBuffer;
  RawEventCounts adapter_counts{};
  auto src = ConntrackEventSource::open(
      io, options,
      {.on_events = [&](std::span<const CtEvent> batch) { tally(batch, adapter_counts); },
       .on_overrun = [&] { ++adapter_counts.overruns; }});
  if (!src) die("events: " + src.error());

  (void)rawInsertTimed(entries, "events insert");
  expectEntries(n, false, "events insert");

  EventSamples out{};
  RawEventCounts raw_counts{};
  auto drainRaw = [&] {
    const Stopwatch watch;
    raw_counts = rawDrainEvents(raw.get());
    out.raw = watch.stop(n);
  };
  auto drainAdapter = [&] {
    const Stopwatch watch;
    (void)(*src)->drainNow();  // an overrun is counted through on_overrun
    out.adapter = watch.stop(n);
  };
  if (raw_first) {
    drainRaw();
    drainAdapter();
  } else {
    drainAdapter();
    drainRaw();
  }
  const uint64_t digest = expectedDigest(entries);
  expectEvents("raw reader", raw_counts, n, digest);
  expectEvents("adapter", adapter_counts, n, digest);
  return out;
}

struct Row {
  const char* name;
  std::vector<Sample> raw, adapter;
};
enum RowId { kTcp, kSnat, kTcpAckEach, kTcpListening, kEvents };

void runOnce(const Config& cfg, int run, std::vector<Row>& rows) {
  const size_t n = cfg.entries;
  const std::vector<RawTcpEntry> tcp = rawEntries(n, false);
  const std::vector<RawTcpEntry> snat = rawEntries(n, true);
  const std::vector<Session> tcp_sessions = sessions(tcp);
  const std::vector<Session> snat_sessions = sessions(snat);

  auto insert = [&](auto&& timed, bool is_snat, const std::string& what) {
    flushOrDie();
    const Sample s = timed();
    expectEntries(n, is_snat, what);
    return s;
  };
  const Sample raw_tcp = insert([&] { return rawInsertTimed(tcp, "raw TCP"); }, false, "raw TCP");
  rows[kTcp].raw.push_back(raw_tcp);
  rows[kTcpAckEach].raw.push_back(raw_tcp);  // raw always acks every request
  rows[kTcp].adapter.push_back(
      insert([&] { return adapterInsertTimed(tcp_sessions, false, "adapter TCP"); }, false,
             "adapter TCP"));
  rows[kTcpAckEach].adapter.push_back(
      insert([&] { return adapterInsertTimed(tcp_sessions, true, "adapter TCP ack each"); }, false,
             "adapter TCP ack each"));
  rows[kSnat].raw.push_back(
      insert([&] { return rawInsertTimed(snat, "raw SNAT"); }, true, "raw SNAT"));
  rows[kSnat].adapter.push_back(
      insert([&] { return adapterInsertTimed(snat_sessions, false, "adapter SNAT"); }, true,
             "adapter SNAT"));
  // The daemon always has an event listener open: then the kernel also builds and queues an
  // event per insert. Each client gets a fresh, empty listener that reads nothing meanwhile.
  auto listened = [&](auto&& timed) {
    RawSocket listener(rawOpenEventSocket(kEventBuffer));
    if (!listener) die(std::string("listener: ") + std::strerror(errno));
    return timed();
  };
  rows[kTcpListening].raw.push_back(insert(
      [&] { return listened([&] { return rawInsertTimed(tcp, "raw TCP listened"); }); }, false,
      "raw TCP listened"));
  rows[kTcpListening].adapter.push_back(insert(
      [&] {
        return listened([&] { return adapterInsertTimed(tcp_sessions, false, "adapter listened"); });
      },
      false, "adapter TCP listened"));
  flushOrDie();
  const EventSamples ev = eventsTimed(n, run % 2 == 0);
  rows[kEvents].raw.push_back(ev.raw);
  rows[kEvents].adapter.push_back(ev.adapter);
  flushOrDie();

  std::fprintf(stderr, "<6>run %d:", run + 1);
  for (const Row& r : rows) {
    std::fprintf(stderr, " %s %.0f/%.0f", r.name, r.raw.back().rate, r.adapter.back().rate);
  }
  std::fprintf(stderr, " (raw/adapter entries/s)\n");
}

// One untimed insert first, so no timed insert pays for growing the conntrack and NAT slabs
// (that would always hit the raw insert, which runs first).
void warmUp(size_t n) {
  flushOrDie();
  (void)rawInsertTimed(rawEntries(n, true), "warm-up");
  expectEntries(n, true, "warm-up");
  flushOrDie();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

double medianOf(const std::vector<Sample>& samples, double Sample::*field) {
  std::vector<double> v;
  for (const Sample& s : samples) v.push_back(s.*field);
  return median(v);
}

std::string table(const Config& cfg, const std::vector<Row>& rows) {
  std::string out = "Adapter vs raw libmnl, " + std::to_string(cfg.entries) +
                    " IPv4 TCP entries, medians of " + std::to_string(cfg.runs) + " runs\n\n";
  out +=
      "| row | raw median entries/s | adapter median entries/s | ratio adapter/raw | runs "
      "| adapter CPU µs/entry | raw CPU µs/entry |\n";
  out += "|---|---:|---:|---:|---:|---:|---:|\n";
  std::string below;
  for (const Row& r : rows) {
    const double raw = medianOf(r.raw, &Sample::rate);
    const double adapter = medianOf(r.adapter, &Sample::rate);
    char line[256];
    std::snprintf(line, sizeof(line), "| %s | %.0f | %.0f | %.2f | %zu | %.2f | %.2f |\n", r.name,
                  raw, adapter, adapter / raw, r.adapter.size(),
                  medianOf(r.adapter, &Sample::cpu_us), medianOf(r.raw, &Sample::cpu_us));
    out += line;
    if (adapter / raw < kGoal) below += std::string(below.empty() ? "" : ", ") + r.name;
  }
  out +=
      "\nRaw inserts set NLM_F_ACK on every request and read every ack; the adapter's default "
      "acks once per batch (both rows of plain TCP share the raw measurement). CPU is "
      "user+sys of this process, so it includes the kernel's work in our syscalls.\n";
  out += below.empty() ? "Goal (adapter >= 80 % of raw) met on every row.\n"
                       : "Below the 80 % goal: " + below + ".\n";
  return out;
}

// True when this thread's namespace is one of `ip netns`'s named ones. (Comparing with PID 1's
// namespace does not work everywhere: in some containers /proc/1/ns is not readable.)
bool inNamedNetns() {
  struct stat self {};
  if (stat("/proc/thread-self/ns/net", &self) != 0) return false;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    struct stat ns {};
    if (stat(entry.path().c_str(), &ns) == 0 && ns.st_dev == self.st_dev &&
        ns.st_ino == self.st_ino) {
      return true;
    }
  }
  return false;
}

size_t conntrackMax() {
  std::ifstream in("/proc/sys/net/netfilter/nf_conntrack_max");
  size_t max = 0;
  return (in >> max) ? max : 0;
}

Config parseArgs(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--entries" && has_value) {
      cfg.entries = std::strtoul(argv[++i], nullptr, 10);
    } else if (arg == "--runs" && has_value) {
      cfg.runs = std::atoi(argv[++i]);
    } else if (arg == "--markdown" && has_value) {
      cfg.markdown = argv[++i];
    } else {
      die("usage: gwsync-bench-adapter [--entries N] [--runs R] [--markdown FILE] "
          "(bad or incomplete argument '" +
          arg + "')");
    }
  }
  const size_t max = std::min<size_t>(conntrackMax(), 312500);
  if (cfg.entries == 0 || cfg.entries > max) {
    die("--entries must be 1.." + std::to_string(max) + " (nf_conntrack_max and distinct tuples)");
  }
  if (cfg.runs < 1) die("--runs must be at least 1");
  return cfg;
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = parseArgs(argc, argv);
  if (!inNamedNetns()) {
    die("not in a named network namespace: refusing to flush this conntrack table; run via "
        "run-adapter-bench.sh");
  }
  std::vector<Row> rows = {{"insert TCP", {}, {}},  // in RowId order
                           {"insert TCP+SNAT", {}, {}},
                           {"insert TCP per-request acks", {}, {}},
                           {"insert TCP, event listener open", {}, {}},
                           {"events receive", {}, {}}};
  warmUp(cfg.entries);
  for (int run = 0; run < cfg.runs; ++run) runOnce(cfg, run, rows);
  const std::string md = table(cfg, rows);
  std::fputs(md.c_str(), stdout);
  if (!cfg.markdown.empty()) {
    std::ofstream out(cfg.markdown);
    out << md;
    if (!out.flush()) die("--markdown " + cfg.markdown + ": cannot write");
  }
  return 0;
}
