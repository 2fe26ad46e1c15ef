// gwsync-lb: the LB module from the command line. Checks a gwsync.toml's [lb] table (with the
// buckets each backend gets and the checksum both nodes must share), prints the nftables table,
// applies or removes it (in a namespace, for the lab and the tests), and tells which backend a
// client IP:port lands on — the same computation the kernel's jhash does.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

#include "lb/describe.h"
#include "lb/kernel_hash.h"
#include "lb/lb_config_toml.h"
#include "lb/nft_render.h"
#include "nat/nft_apply.h"
#include "syncd/cli/command_line.h"
#include "syncd/kernel/netns.h"

namespace {

namespace gl = gwsync::lb;
namespace gs = gwsync::syncd;

constexpr const char* kUsage =
    "usage: gwsync-lb check  --config FILE\n"
    "       gwsync-lb render --config FILE\n"
    "       gwsync-lb apply  --config FILE [--netns NAME]\n"
    "       gwsync-lb remove [--netns NAME]\n"
    "       gwsync-lb lookup --config FILE --service NAME  < lines \"CLIENT_IP CLIENT_PORT\"\n"
    "check:  validate the [lb] table of a gwsync.toml; print every error with its key and\n"
    "        value, or the services, each backend's buckets and share, and the checksum\n"
    "render: print table inet gwsync_lb\n"
    "apply:  replace table inet gwsync_lb with it in one transaction\n"
    "remove: delete table inet gwsync_lb (no error when absent)\n"
    "lookup: for each client IP and port on stdin, print \"IP PORT bucket=B backend=ADDR:PORT\":\n"
    "        where the kernel sends a new connection from it\n"
    "exit: 0 done, 1 invalid config or nftables error, 2 usage error\n";

struct Args {
  std::string cmd;
  std::string config;
  std::string netns;
  std::string service;
};

constexpr gs::CommandLine kCli("gwsync-lb", kUsage);

Args parseArgs(int argc, char** argv) {
  Args a;
  a.cmd = kCli.command(argc, argv, {"check", "render", "apply", "remove", "lookup"});
  kCli.forEachOption(argc, argv, {}, [&a](const std::string& opt, const std::string& val) {
    if (opt == "--config") {
      a.config = val;
    } else if (opt == "--netns") {
      a.netns = val;
    } else if (opt == "--service") {
      a.service = val;
    } else {
      kCli.usageError("unknown option " + opt);
    }
  });
  if (a.cmd != "remove" && a.config.empty()) kCli.usageError(a.cmd + " needs --config FILE");
  if (a.cmd == "lookup" && a.service.empty()) kCli.usageError("lookup needs --service NAME");
  return a;
}

gl::LbConfig load(const Args& a) {
  auto config = gl::loadLbFile(a.config);
  if (!config) {
    for (const auto& e : config.error()) {
      const std::string where = e.key.empty() ? "" : a.config + ": ";
      std::fprintf(stderr, "gwsync-lb: %s%s\n", where.c_str(), gl::format(e).c_str());
    }
    std::exit(1);
  }
  return std::move(config).value();
}

// Call inside the NetnsGuard of `netns`: libnftables talks to the namespace it runs in.
gwsync::nat::NftApplier openApplier(const std::string& netns) {
  auto applier = gwsync::nat::NftApplier::open();
  if (!applier) kCli.die((netns.empty() ? "" : "netns " + netns + ": ") + applier.error());
  return std::move(applier).value();
}

int lookup(const gl::LbConfig& config, const std::string& name) {
  const gl::Service* svc = nullptr;
  for (const gl::Service& s : config.services) {
    if (s.name == name) svc = &s;
  }
  if (svc == nullptr) kCli.die("no service named " + name);
  std::string text;
  size_t line_no = 0;
  while (std::getline(std::cin, text)) {
    ++line_no;
    std::istringstream in(text);
    std::string ip;
    long port = -1;
    if (!(in >> ip >> port) || port < 0 || port > 65535) {
      kCli.die("stdin line " + std::to_string(line_no) + ": expected \"IP PORT\", got \"" + text +
               "\"");
    }
    const auto addr = gs::IpAddress::parse(ip);
    if (!addr || addr->family != svc->family()) {
      kCli.die("stdin line " + std::to_string(line_no) + ": " + ip + " is not an address of " +
               svc->name + "'s family");
    }
    const auto p = static_cast<uint16_t>(port);
    const uint32_t bucket = gl::kernelBucket(*addr, p, config.seed, svc->table_size);
    std::printf("%s %u bucket=%u backend=%s\n", ip.c_str(), p, bucket,
                svc->backends[svc->table[bucket]].name().c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parseArgs(argc, argv);
  if (a.cmd == "remove") {
    auto ns = gs::NetnsGuard::enter(a.netns);
    if (!ns) kCli.die(ns.error());
    auto r = openApplier(a.netns).run(gl::removeTableCommands());
    if (!r) kCli.die(r.error().toString());
    return 0;
  }
  const gl::LbConfig config = load(a);
  if (a.cmd == "check") {
    std::fputs(gl::describeLb(config).c_str(), stdout);
    return 0;
  }
  if (a.cmd == "lookup") return lookup(config, a.service);
  const std::string text = gl::renderTable(config);
  if (a.cmd == "render") {
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  auto ns = gs::NetnsGuard::enter(a.netns);
  if (!ns) kCli.die(ns.error());
  auto r = openApplier(a.netns).run(gl::replaceTableCommands(text));
  if (!r) kCli.die(r.error().toString());
  std::printf("applied table %s %s: %zu services, checksum %s\n",
              std::string(gl::kLbTableFamily).c_str(), std::string(gl::kLbTableName).c_str(),
              config.services.size(), gl::hex64(config.checksum).c_str());
  return 0;
}
