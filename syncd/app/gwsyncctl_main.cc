// gwsyncctl: asks a running gwsyncd over its control socket. Sends one request line, prints the
// reply and exits 1 when the reply is an error, so scripts can test `gwsyncctl commit` directly.
// Plain POSIX sockets: a one-shot client needs no event loop.
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

constexpr const char* kDefaultSocket = "/run/gwsync/gwsyncd.sock";
constexpr int kDefaultTimeoutSeconds = 5;

constexpr const char* kUsage =
    "usage: gwsyncctl [--socket PATH] [--timeout SECONDS] COMMAND [ARGS...]\n"
    "\n"
    "commands:\n"
    "  status             role, peer link, sync and readiness state\n"
    "  peers              the peer: address, id, link state, last heartbeat\n"
    "  sessions [ADDRESS] synced sessions; with ADDRESS only those with it as an end\n"
    "  commit             write the peer's sessions into this node's kernel table (takeover)\n"
    "  resync             ask the peer for a full copy of its sessions\n"
    "  flush              drop the peer's sessions held on this node\n"
    "  stats              counters\n"
    "  nat                NAT pools, partitions and bindings per partition; rejected bindings\n"
    "  vm                 mobile hosts: owner, last move, move number, session counts\n"
    "\n"
    "options:\n"
    "  --socket PATH      control socket (default: $GWSYNC_CONTROL_SOCKET, else\n"
    "                     /run/gwsync/gwsyncd.sock)\n"
    "  --timeout SECONDS  give up waiting for the reply after this long (default 5)\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 on success, 1 when gwsyncd replies with an error or cannot be reached,\n"
    "2 on a usage error.\n";

struct Args {
  std::string socket;
  int timeout_seconds = kDefaultTimeoutSeconds;
  std::string request;  // "COMMAND ARGS..."
};

[[noreturn]] void usageError(const std::string& msg) {
  std::fprintf(stderr, "gwsyncctl: %s\ntry 'gwsyncctl --help'\n", msg.c_str());
  std::exit(2);
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "gwsyncctl: %s\n", msg.c_str());
  std::exit(1);
}

int parseTimeout(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < 1 || v > 3600) {
    usageError("--timeout '" + text + "': expected whole seconds, 1..3600");
  }
  return static_cast<int>(v);
}

Args parseArgs(int argc, char** argv) {
  Args a;
  const char* env = std::getenv("GWSYNC_CONTROL_SOCKET");
  a.socket = env != nullptr && *env != '\0' ? env : kDefaultSocket;
  int i = 1;
  // Options come before the command, so that an argument of a command is never taken for one.
  for (; i < argc && argv[i][0] == '-'; ++i) {
    const std::string opt = argv[i];
    if (opt == "--") {
      ++i;
      break;
    }
    if (opt == "-h" || opt == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    const size_t eq = opt.find('=');
    const std::string name = opt.substr(0, eq);
    if (name != "--socket" && name != "--timeout") usageError("unknown option '" + opt + "'");
    std::string value;
    if (eq != std::string::npos) {
      value = opt.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      usageError("option " + name + " needs a value");
    }
    if (name == "--socket") {
      if (value.empty()) usageError("--socket needs a path");
      a.socket = value;
    } else {
      a.timeout_seconds = parseTimeout(value);
    }
  }
  if (i >= argc) usageError("missing command");
  for (; i < argc; ++i) {
    const std::string word = argv[i];
    // A newline would end the request early and smuggle in a second one.
    if (word.find_first_of("\r\n") != std::string::npos) {
      usageError("arguments cannot contain line breaks");
    }
    a.request += (a.request.empty() ? "" : " ") + word;
  }
  return a;
}

// The group that may use the socket, for the permission hint; empty if unknown.
std::string socketGroup(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";
  const group* g = ::getgrgid(st.st_gid);
  return g != nullptr ? g->gr_name : std::to_string(st.st_gid);
}

[[noreturn]] void connectFailed(const std::string& path, int err) {
  struct stat st {};
  // Connecting to a directory or regular file also fails with ECONNREFUSED; say what it is.
  if (err == ECONNREFUSED && ::stat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) {
    die(path + " is not a socket (is --socket right?)");
  }
  switch (err) {
    case ENOENT:
      die("gwsyncd is not running (no socket at " + path + ")");
    case ECONNREFUSED:
      die("gwsyncd is not running (not accepting connections at " + path + ")");
    case EACCES:
    case EPERM: {
      const std::string group = socketGroup(path);
      die("permission denied on " + path + ": run as root or as a member of " +
          (group.empty() ? "the socket's group" : "group '" + group + "'"));
    }
    default:
      die("cannot connect to " + path + ": " + std::strerror(err));
  }
}

using Clock = std::chrono::steady_clock;

// Waits for `events` on fd until the deadline; false on timeout.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) die(std::string("poll: ") + std::strerror(errno));
  }
}

int connectTo(const std::string& path, Clock::time_point deadline) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) die("socket path too long: " + path);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die(std::string("socket: ") + std::strerror(errno));
  // A Unix connect either completes at once or fails with EAGAIN when the daemon's backlog is
  // full; the latter is retried until the deadline.
  while (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EAGAIN && errno != EINTR) connectFailed(path, errno);
    if (Clock::now() >= deadline) die("gwsyncd at " + path + " is too busy to accept");
    ::usleep(10000);
  }
  return fd;
}

void sendAll(int fd, std::string_view data, Clock::time_point deadline, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!waitFor(fd, POLLOUT, deadline)) die("timed out sending to gwsyncd at " + path);
    } else {
      die("cannot send to gwsyncd at " + path + ": " + std::strerror(errno));
    }
  }
}

std::string receiveAll(int fd, Clock::time_point deadline, const std::string& path,
                       int timeout_seconds) {
  std::string reply;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    // A reset after data is the end too: the daemon closed with part of our request unread
    // (an over-long line), and what it sent before closing is the complete reply.
    const bool end = n == 0 || (n < 0 && errno == ECONNRESET && !reply.empty());
    if (n > 0) {
      reply.append(buf, static_cast<size_t>(n));
    } else if (end) {
      return reply;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!waitFor(fd, POLLIN, deadline)) {
        die("no reply from gwsyncd within " + std::to_string(timeout_seconds) + " s at " + path);
      }
    } else {
      die("cannot read the reply from gwsyncd at " + path + ": " + std::strerror(errno));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parseArgs(argc, argv);
  const auto deadline = Clock::now() + std::chrono::seconds(args.timeout_seconds);
  const int fd = connectTo(args.socket, deadline);
  sendAll(fd, args.request + "\n", deadline, args.socket);
  std::string reply = receiveAll(fd, deadline, args.socket, args.timeout_seconds);
  ::close(fd);
  if (reply.empty()) die("gwsyncd closed the connection without a reply at " + args.socket);
  if (reply.back() != '\n') reply += '\n';
  const bool is_error = reply.rfind("error:", 0) == 0;
  // Errors go to stderr, so that `gwsyncctl sessions > file` does not hide them in the file.
  std::fputs(reply.c_str(), is_error ? stderr : stdout);
  return is_error ? 1 : 0;
}
