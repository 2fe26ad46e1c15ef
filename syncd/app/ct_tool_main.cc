// gwsync-ct: the conntrack adapter from the command line. Lists a namespace's table, follows
// its events, and copies one namespace's table into another through the batched writer: the
// smallest real use of the adapter, and what the lab uses before the sync engine takes over.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "syncd/kernel/ct_dump.h"
#include "syncd/kernel/ct_events.h"
#include "syncd/kernel/ct_writer.h"
#include "syncd/kernel/netns.h"

namespace gs = gwsync::syncd;

namespace {

constexpr const char* kUsage =
    "usage: gwsync-ct dump  [--netns NAME]\n"
    "       gwsync-ct watch [--netns NAME] [--seconds N]\n"
    "       gwsync-ct copy  --from NAME --to NAME\n"
    "dump:  print every conntrack entry, one normalised line each\n"
    "watch: print conntrack events as they happen (default 10 s)\n"
    "copy:  write every entry of one namespace's table into another's, NAT included\n";

struct Args {
  std::string cmd;
  std::string netns;
  std::string from;
  std::string to;
  int seconds = 10;
};

[[noreturn]] void usageError(const std::string& msg) {
  std::fprintf(stderr, "gwsync-ct: %s\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

Args parseArgs(int argc, char** argv) {
  if (argc < 2) usageError("missing command");
  Args a;
  a.cmd = argv[1];
  if (a.cmd == "-h" || a.cmd == "--help") {
    std::fputs(kUsage, stdout);
    std::exit(0);
  }
  for (int i = 2; i < argc; ++i) {
    const std::string opt = argv[i];
    if (i + 1 >= argc) usageError("option " + opt + " needs a value");
    const std::string val = argv[++i];
    if (opt == "--netns") {
      a.netns = val;
    } else if (opt == "--from") {
      a.from = val;
    } else if (opt == "--to") {
      a.to = val;
    } else if (opt == "--seconds") {
      char* end = nullptr;
      const long v = std::strtol(val.c_str(), &end, 10);
      if (*end != '\0' || v < 1 || v > 86400) usageError("--seconds: '" + val + "' is not 1..86400");
      a.seconds = static_cast<int>(v);
    } else {
      usageError("unknown option " + opt);
    }
  }
  if (a.cmd != "dump" && a.cmd != "watch" && a.cmd != "copy") usageError("unknown command " + a.cmd);
  if (a.cmd == "copy" && (a.from.empty() || a.to.empty())) usageError("copy needs --from and --to");
  return a;
}

template <class T>
T orDie(gs::Result<T, std::string> r) {
  if (!r) {
    std::fprintf(stderr, "gwsync-ct: %s\n", r.error().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

void reportParse(const gs::ParseStats& st) {
  for (size_t i = 0; i < st.errors.size(); ++i) {
    if (st.errors[i] == 0) continue;
    std::fprintf(stderr, "gwsync-ct: skipped %llu entries: %s\n",
                 static_cast<unsigned long long>(st.errors[i]),
                 std::string(gs::parseErrorName(static_cast<gs::ParseError>(i))).c_str());
  }
}

int dump(const Args& a) {
  auto ns = orDie(gs::NetnsGuard::enter(a.netns));
  gs::ParseStats st;
  auto sum = orDie(gs::dumpConntrack(
      [](gs::Session&& s) { std::printf("%s\n", gs::describe(s).c_str()); }, st));
  reportParse(st);
  std::fprintf(stderr, "gwsync-ct: %zu entries\n", sum.entries);
  return 0;
}

int watch(const Args& a) {
  auto ns = orDie(gs::NetnsGuard::enter(a.netns));
  boost::asio::io_context io;
  auto src = orDie(gs::ConntrackEventSource::open(
      io, {},
      {.on_events =
           [](std::span<const gs::CtEvent> events) {
             static const char* kNames[] = {"NEW", "UPDATE", "DESTROY"};
             for (const auto& e : events) {
               std::printf("%-7s %s\n", kNames[static_cast<int>(e.type)],
                           gs::describe(e.session).c_str());
             }
             std::fflush(stdout);
           },
       .on_overrun = [] { std::fprintf(stderr, "gwsync-ct: events lost (ENOBUFS)\n"); }}));
  src->start();
  boost::asio::steady_timer timer(io, std::chrono::seconds(a.seconds));
  timer.async_wait([&](const boost::system::error_code&) { src->stop(); });
  io.run();
  reportParse(src->stats().parse);
  return 0;
}

int copy(const Args& a) {
  std::vector<gs::Session> sessions;
  gs::ParseStats st;
  {
    auto ns = orDie(gs::NetnsGuard::enter(a.from));
    orDie(gs::dumpConntrack([&](gs::Session&& s) { sessions.push_back(std::move(s)); }, st));
  }
  reportParse(st);
  auto ns = orDie(gs::NetnsGuard::enter(a.to));
  auto writer = orDie(gs::ConntrackWriter::open({}));
  std::vector<gs::CtWrite> writes;
  writes.reserve(sessions.size());
  for (const auto& s : sessions) writes.push_back({gs::CtOp::kCreate, &s});
  const auto results = writer.apply(writes);
  size_t failed = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].error == 0) continue;
    if (++failed <= 5) {
      std::fprintf(stderr, "gwsync-ct: %s failed: %s: %s\n",
                   std::string(gs::opName(results[i].done)).c_str(),
                   std::strerror(results[i].error), gs::describe(sessions[i]).c_str());
    }
  }
  const auto& ws = writer.stats();
  std::printf("copied %zu of %zu entries from %s to %s (%llu batches, %llu updated in place)\n",
              sessions.size() - failed, sessions.size(), a.from.c_str(), a.to.c_str(),
              static_cast<unsigned long long>(ws.batches),
              static_cast<unsigned long long>(ws.exists_to_update));
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parseArgs(argc, argv);
  if (a.cmd == "dump") return dump(a);
  if (a.cmd == "watch") return watch(a);
  return copy(a);
}
