// gwsync-nat: the NAT module from the command line. Checks a gwsync.toml's [nat] table, prints
// the nftables table a node would get, applies or removes it (in a namespace, for the lab and
// the tests), and shows how a conntrack table's bindings fall into the pools' partitions — the
// operator's view until gwsyncctl nat exists, and the tests' way to check partitions.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "nat/nat_config_toml.h"
#include "nat/nft_apply.h"
#include "nat/nft_render.h"
#include "nat/usage.h"
#include "syncd/cli/command_line.h"
#include "syncd/kernel/ct_dump.h"
#include "syncd/kernel/netns.h"

namespace {

namespace gn = gwsync::nat;
namespace gs = gwsync::syncd;

constexpr const char* kUsage =
    "usage: gwsync-nat check  --config FILE\n"
    "       gwsync-nat render --config FILE [--node ID]\n"
    "       gwsync-nat apply  --config FILE [--node ID] [--netns NAME]\n"
    "       gwsync-nat remove [--netns NAME]\n"
    "       gwsync-nat show   --config FILE [--netns NAME]\n"
    "check:  validate the [nat] table of a gwsync.toml (node.id and sync.peer_id name the\n"
    "        pair); print every error with its key and value, or the pools and partitions\n"
    "render: print table inet gwsync_nat for this node (node.id, or --node)\n"
    "apply:  replace table inet gwsync_nat with it in one transaction\n"
    "remove: delete table inet gwsync_nat (no error when absent)\n"
    "show:   pools, partitions and the conntrack table's bindings in each\n"
    "exit: 0 done, 1 invalid config or nftables/netlink error, 2 usage error\n";

struct Args {
  std::string cmd;
  std::string config;
  std::string netns;
  uint32_t node = 0;  // 0: node.id of the config
};

constexpr gs::CommandLine kCli("gwsync-nat", kUsage);

Args parseArgs(int argc, char** argv) {
  Args a;
  a.cmd = kCli.command(argc, argv, {"check", "render", "apply", "remove", "show"});
  kCli.forEachOption(argc, argv, {}, [&a](const std::string& opt, const std::string& val) {
    if (opt == "--config") {
      a.config = val;
    } else if (opt == "--netns") {
      a.netns = val;
    } else if (opt == "--node") {
      const auto v = gs::parseLong(val, 1, 65535);
      if (!v) kCli.usageError("--node: '" + val + "' is not a node id 1..65535");
      a.node = static_cast<uint32_t>(*v);
    } else {
      kCli.usageError("unknown option " + opt);
    }
  });
  if (a.cmd != "remove" && a.config.empty()) kCli.usageError(a.cmd + " needs --config FILE");
  return a;
}

gn::NatFile load(const Args& a) {
  auto file = gn::loadNatFile(a.config);
  if (!file) {
    for (const auto& e : file.error()) {
      const std::string where = e.key.empty() ? "" : a.config + ": ";
      std::fprintf(stderr, "gwsync-nat: %s%s\n", where.c_str(), gn::format(e).c_str());
    }
    std::exit(1);
  }
  if (a.node != 0) file->self = a.node;
  return std::move(file).value();
}

std::string rendered(const gn::NatFile& f) {
  auto text = gn::renderTable(f.config, f.self);
  if (!text) kCli.die(text.error());
  return std::move(text).value();
}

gn::NftApplier openApplier(const std::string& netns) {
  auto applier = gn::NftApplier::open();
  if (!applier) kCli.die((netns.empty() ? "" : "netns " + netns + ": ") + applier.error());
  return std::move(applier).value();
}

int show(const Args& a, const gn::NatFile& f) {
  auto ns = gs::NetnsGuard::enter(a.netns);
  if (!ns) kCli.die(ns.error());
  gn::NatUsage usage = gn::emptyUsage(f.config);
  gs::ParseStats st;
  auto r = gs::dumpConntrack([&](gs::Session&& s) { gn::countBinding(f.config, s, usage); }, st);
  if (!r) kCli.die("conntrack dump: " + r.error());
  std::fputs(gn::describeNat(f.config, f.self, &usage).c_str(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parseArgs(argc, argv);
  if (a.cmd == "remove") {
    auto ns = gs::NetnsGuard::enter(a.netns);
    if (!ns) kCli.die(ns.error());
    auto r = openApplier(a.netns).removeTable();
    if (!r) kCli.die(r.error().toString());
    return 0;
  }
  const gn::NatFile f = load(a);
  if (a.cmd == "check") {
    std::fputs(gn::describeNat(f.config, f.self, nullptr).c_str(), stdout);
    return 0;
  }
  if (a.cmd == "render") {
    std::fputs(rendered(f).c_str(), stdout);
    return 0;
  }
  if (a.cmd == "show") return show(a, f);
  const std::string text = rendered(f);
  auto ns = gs::NetnsGuard::enter(a.netns);
  if (!ns) kCli.die(ns.error());
  auto r = openApplier(a.netns).replaceTable(text);
  if (!r) kCli.die(r.error().toString());
  std::printf("applied table %s %s for node %u\n", std::string(gn::kNatTableFamily).c_str(),
              std::string(gn::kNatTableName).c_str(), f.self);
  return 0;
}
