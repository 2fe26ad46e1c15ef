// gwsyncd: the gateway state-sync daemon. See README.md and docs/configuration.md.
#include <utility>  // before Asio: Boost 1.74's Asio uses std::exchange without including it

#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include "syncd/app/config.h"
#include "syncd/app/daemon.h"
#include "syncd/app/epoch_store.h"
#include "syncd/app/log.h"

namespace gs = gwsync::syncd;

namespace {

constexpr const char* kUsage =
    "usage: gwsyncd [--config FILE] [--check-config]\n"
    "  --config FILE    configuration (default /etc/gwsync/gwsync.toml)\n"
    "  --check-config   validate the configuration, print every error, and exit\n";

int usageError(const std::string& msg) {
  std::fprintf(stderr, "gwsyncd: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

// Creates a directory and its parents (mode 0750); an existing one is fine.
bool makeDirs(const std::string& path, std::string& error) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    const std::string part = path.substr(0, pos);
    if (::mkdir(part.c_str(), 0750) != 0 && errno != EEXIST) {
      error = part + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

std::string parentDir(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "" : path.substr(0, slash);
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = "/etc/gwsync/gwsync.toml";
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--config") {
      if (++i >= argc) return usageError("--config needs a file");
      path = argv[i];
    } else if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      return usageError("unknown argument '" + arg + "'");
    }
  }

  auto config = gs::loadConfig(path);
  if (!config) {
    // --check-config talks to a person at a terminal; the daemon's lines go to the journal.
    for (const auto& e : config.error()) {
      if (check_only) {
        std::fprintf(stderr, "%s\n", gs::format(e).c_str());
      } else {
        gs::logLine(gs::Prio::kErr, "%s", gs::format(e).c_str());
      }
    }
    if (check_only) {
      std::fprintf(stderr, "gwsyncd: %zu configuration error(s) in %s\n", config.error().size(),
                   path.c_str());
    } else {
      gs::logLine(gs::Prio::kErr, "gwsyncd: %zu configuration error(s) in %s",
                  config.error().size(), path.c_str());
    }
    return 1;
  }
  if (check_only) {
    std::printf("%s: configuration OK\n", path.c_str());
    return 0;
  }

  std::string err;
  if (!makeDirs(config->node.state_dir, err) ||
      !makeDirs(parentDir(config->control.socket), err)) {
    gs::logLine(gs::Prio::kErr, "gwsyncd: %s", err.c_str());
    return 1;
  }
  auto epoch = gs::bumpEpoch(config->node.state_dir);
  if (!epoch) {
    gs::logLine(gs::Prio::kErr, "gwsyncd: node.state_dir: %s", epoch.error().c_str());
    return 1;
  }

  boost::asio::io_context io;
  auto daemon = gs::Daemon::create(io, std::move(*config), *epoch, path);
  if (!daemon) {
    gs::logLine(gs::Prio::kErr, "gwsyncd: %s", daemon.error().c_str());
    return 1;
  }
  // SIGHUP is systemctl reload: re-armed after each one, so a second reload is not fatal.
  boost::asio::signal_set hangups(io, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_hangup =
      [&](const boost::system::error_code& ec, int) {
        if (ec) return;
        (*daemon)->reload();
        hangups.async_wait(on_hangup);
      };
  hangups.async_wait(on_hangup);
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    gs::logLine(gs::Prio::kInfo, "signal %d: shutting down", sig);
    boost::system::error_code ignored;
    hangups.cancel(ignored);  // nothing may keep run() going
    (*daemon)->stop();
  });
  // After the signal sets, so a signal during the initial dump is handled, not fatal.
  if (auto r = (*daemon)->start(); !r) {
    gs::logLine(gs::Prio::kErr, "gwsyncd: %s", r.error().c_str());
    return 1;
  }
  io.run();
  gs::logLine(gs::Prio::kInfo, "stopped");
  return (*daemon)->failed() ? 1 : 0;
}
