// The control server on a socket in a temporary directory, spoken to by a raw client and by the
// real gwsyncctl binary (GWSYNCCTL_PATH, set by CMake).
#include "syncd/app/control_server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test/unit/syncd/app/process_runner.h"

namespace gwsync::syncd {
namespace {

namespace asio = boost::asio;
using test::ProcessResult;
using test::runProcess;

sockaddr_un unixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

// A connected client fd, or -1 with errno set.
int connectTo(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_un addr = unixAddress(path);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// Reads to EOF. A reset after data counts as the end: the server resets when it closes with part
// of an over-long request unread.
std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return out + "<timeout>";
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

void sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << std::strerror(errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string request(const std::string& path, std::string_view text) {
  const int fd = connectTo(path);
  if (fd < 0) return std::string("<connect: ") + std::strerror(errno) + ">";
  sendAll(fd, text);
  std::string reply = readAll(fd);
  ::close(fd);
  return reply;
}

// A socket file with nothing behind it, as a crashed daemon leaves.
void makeStaleSocket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  const sockaddr_un addr = unixAddress(path);
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
}

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/gwsync-control-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    path_ = dir_ + "/gwsyncd.sock";
  }

  void TearDown() override {
    stopServer();
    std::filesystem::remove_all(dir_);
  }

  ControlServer::Options options() {
    ControlServer::Options o;
    o.path = path_;
    o.commands["status"] = [](std::string_view, std::string_view) {
      return std::string("state: ready");
    };
    o.commands["sessions"] = [](std::string_view command, std::string_view args) {
      return std::string(command) + " for '" + std::string(args) + "'\n";
    };
    o.commands["fail"] = [](std::string_view, std::string_view) {
      return std::string("error: no such session\n");
    };
    o.commands["boom"] = [](std::string_view, std::string_view) -> std::string {
      throw std::runtime_error("handler bug");
    };
    return o;
  }

  // Starts the server, then the thread that runs the io_context.
  void startServer(ControlServer::Options o) {
    auto server = ControlServer::start(io_, std::move(o));
    ASSERT_TRUE(server.ok()) << server.error();
    server_ = std::move(*server);
    thread_ = std::thread([this] { io_.run(); });
  }
  void startServer() { startServer(options()); }

  // stop() on the io thread; run() must then return by itself.
  void stopServer() {
    if (!server_) return;
    asio::post(io_, [this] { server_->stop(); });
    thread_.join();
    server_.reset();
  }

  ProcessResult ctl(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), GWSYNCCTL_PATH);
    return runProcess(args, env);
  }

  asio::io_context io_;
  std::unique_ptr<ControlServer> server_;
  std::thread thread_;
  std::string dir_;
  std::string path_;
};

TEST_F(ControlServerTest, RepliesAndCloses) {
  startServer();
  EXPECT_EQ(request(path_, "status\n"), "state: ready\n");
  EXPECT_EQ(request(path_, "sessions 192.0.2.10\n"), "sessions for '192.0.2.10'\n");
  EXPECT_EQ(request(path_, "  sessions \t 192.0.2.10  \r\n"), "sessions for '192.0.2.10'\n");
  EXPECT_EQ(request(path_, "sessions\n"), "sessions for ''\n");
}

TEST_F(ControlServerTest, UnknownAndEmptyRequests) {
  startServer();
  EXPECT_EQ(request(path_, "bogus arg\n"), "error: unknown command 'bogus'\n");
  EXPECT_EQ(request(path_, "bo\x01gus\n"), "error: unknown command 'bo?gus'\n");
  EXPECT_EQ(request(path_, "\n"), "error: empty request\n");
}

TEST_F(ControlServerTest, HandlerExceptionBecomesInternalError) {
  startServer();
  EXPECT_EQ(request(path_, "boom\n"), "error: internal\n");
  EXPECT_EQ(request(path_, "status\n"), "state: ready\n");
}

TEST_F(ControlServerTest, RequestWithoutNewlineIsAnsweredAtEndOfInput) {
  startServer();
  const int fd = connectTo(path_);
  ASSERT_GE(fd, 0);
  sendAll(fd, "status");
  ::shutdown(fd, SHUT_WR);
  EXPECT_EQ(readAll(fd), "state: ready\n");
  ::close(fd);
}

TEST_F(ControlServerTest, LineLimit) {
  startServer();
  // 4096 bytes including the newline is the longest accepted request.
  const std::string longest = "sessions " + std::string(4096 - 10, 'a') + "\n";
  ASSERT_EQ(longest.size(), 4096u);
  EXPECT_EQ(request(path_, longest), "sessions for '" + std::string(4086, 'a') + "'\n");
  EXPECT_EQ(request(path_, std::string(5000, 'a')), "error: request longer than 4096 bytes\n");
  EXPECT_EQ(request(path_, std::string(4097, 'a') + "\n"),
            "error: request longer than 4096 bytes\n");
  EXPECT_EQ(request(path_, "status\n"), "state: ready\n");
}

TEST_F(ControlServerTest, ManyConcurrentClients) {
  startServer();
  std::vector<int> fds;
  for (int i = 0; i < 40; ++i) {
    fds.push_back(connectTo(path_));
    ASSERT_GE(fds.back(), 0);
  }
  for (size_t i = 0; i < fds.size(); ++i) sendAll(fds[i], "sessions " + std::to_string(i) + "\n");
  for (size_t i = fds.size(); i-- > 0;) {
    EXPECT_EQ(readAll(fds[i]), "sessions for '" + std::to_string(i) + "'\n");
    ::close(fds[i]);
  }
}

TEST_F(ControlServerTest, ConnectionsBeyondTheLimitAreTurnedAway) {
  auto o = options();
  o.max_connections = 2;
  startServer(std::move(o));
  const int a = connectTo(path_);
  const int b = connectTo(path_);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  // The server answers at accept and closes: a request sent after that would meet a closed
  // socket (EPIPE), so this client only reads.
  const int c = connectTo(path_);
  ASSERT_GE(c, 0);
  EXPECT_EQ(readAll(c), "error: busy, try again\n");
  ::close(c);
  ::close(a);
  ::close(b);
}

TEST_F(ControlServerTest, IdleClientIsDisconnected) {
  auto o = options();
  o.io_timeout = std::chrono::milliseconds(100);
  startServer(std::move(o));
  const int fd = connectTo(path_);
  ASSERT_GE(fd, 0);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(readAll(fd), "");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  ::close(fd);
}

TEST_F(ControlServerTest, SocketFileModeAndRemovalOnStop) {
  startServer();
  struct stat st {};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  stopServer();
  EXPECT_NE(::lstat(path_.c_str(), &st), 0);
}

TEST_F(ControlServerTest, StopClosesOpenConnectionsAndRunReturns) {
  startServer();
  const int fd = connectTo(path_);
  ASSERT_GE(fd, 0);
  sendAll(fd, "stat");  // an unfinished request keeps the connection waiting
  stopServer();         // joins the io thread: run() has returned
  EXPECT_EQ(readAll(fd), "");
  ::close(fd);
}

TEST_F(ControlServerTest, StaleSocketFileIsReplaced) {
  makeStaleSocket(path_);
  startServer();
  EXPECT_EQ(request(path_, "status\n"), "state: ready\n");
}

TEST_F(ControlServerTest, SecondServerIsRefusedWhileFirstRuns) {
  startServer();
  asio::io_context other;
  auto second = ControlServer::start(other, options());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error(), "control socket " + path_ +
                                " answers: another gwsyncd is running (stop it, or set "
                                "control.socket)");
  EXPECT_EQ(request(path_, "status\n"), "state: ready\n");  // the first is untouched
}

TEST_F(ControlServerTest, PathHoldingAFileIsNotReplaced) {
  std::ofstream(path_) << "not a socket";
  auto server = ControlServer::start(io_, options());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error(),
            "control socket path " + path_ + " exists and is not a socket; not replacing it");
}

TEST_F(ControlServerTest, MissingDirectoryIsNamed) {
  auto o = options();
  o.path = dir_ + "/missing/gwsyncd.sock";
  auto server = ControlServer::start(io_, std::move(o));
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error(), "cannot bind control socket " + dir_ +
                                "/missing/gwsyncd.sock: No such file or directory");
}

TEST_F(ControlServerTest, StopLeavesASuccessorsSocketAlone) {
  startServer();
  // Another process replaced the file (say, after deciding ours was stale); it is not ours now.
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  makeStaleSocket(path_);
  stopServer();
  struct stat st {};
  EXPECT_EQ(::lstat(path_.c_str(), &st), 0);
}

TEST_F(ControlServerTest, CtlPrintsReply) {
  startServer();
  const ProcessResult r = ctl({"--socket", path_, "status"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "state: ready\n");
  EXPECT_EQ(r.err, "");
  const ProcessResult s = ctl({"--socket=" + path_, "sessions", "192.0.2.10"});
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(s.out, "sessions for '192.0.2.10'\n");
}

TEST_F(ControlServerTest, CtlTakesSocketFromEnvironment) {
  startServer();
  const ProcessResult r = ctl({"status"}, {"GWSYNC_CONTROL_SOCKET=" + path_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "state: ready\n");
}

TEST_F(ControlServerTest, CtlExitsOneOnErrorReply) {
  startServer();
  const ProcessResult r = ctl({"--socket", path_, "fail"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: no such session\n");
  const ProcessResult u = ctl({"--socket", path_, "frobnicate"});
  EXPECT_EQ(u.exit_code, 1);
  EXPECT_EQ(u.err, "error: unknown command 'frobnicate'\n");
}

TEST_F(ControlServerTest, CtlWithoutDaemon) {
  const ProcessResult none = ctl({"--socket", path_, "status"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_EQ(none.err, "gwsyncctl: gwsyncd is not running (no socket at " + path_ + ")\n");
  makeStaleSocket(path_);
  const ProcessResult stale = ctl({"--socket", path_, "status"});
  EXPECT_EQ(stale.exit_code, 1);
  EXPECT_EQ(stale.err,
            "gwsyncctl: gwsyncd is not running (not accepting connections at " + path_ + ")\n");
  const ProcessResult dir = ctl({"--socket", dir_, "status"});
  EXPECT_EQ(dir.exit_code, 1);
  EXPECT_EQ(dir.err, "gwsyncctl: " + dir_ + " is not a socket (is --socket right?)\n");
}

TEST_F(ControlServerTest, CtlTimesOutOnASilentDaemon) {
  // Listens but never accepts: connect and send succeed, no reply comes.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  const sockaddr_un addr = unixAddress(path_);
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  const ProcessResult r = ctl({"--socket", path_, "--timeout", "1", "status"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "gwsyncctl: no reply from gwsyncd within 1 s at " + path_ + "\n");
  ::close(fd);
}

TEST_F(ControlServerTest, CtlPermissionDenied) {
  startServer();
  // As root the kernel skips permission checks, so run gwsyncctl as nobody; otherwise take the
  // permission away from ourselves.
  const bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_EQ(::chmod(dir_.c_str(), 0711), 0);  // nobody may reach the socket, not use it
  } else {
    ASSERT_EQ(::chmod(path_.c_str(), 0), 0);
  }
  const ProcessResult r = runProcess({GWSYNCCTL_PATH, "--socket", path_, "status"}, {},
                                     root ? std::optional<uid_t>(65534) : std::nullopt);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("gwsyncctl: permission denied on " + path_ +
                            ": run as root or as a member of group '",
                        0),
            0u)
      << r.err;
}

TEST_F(ControlServerTest, CtlUsage) {
  const ProcessResult help = ctl({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* command :
       {"status", "peers", "sessions [ADDRESS]", "commit", "resync", "flush", "stats"}) {
    EXPECT_NE(help.out.find(std::string("  ") + command), std::string::npos) << command;
  }
  const ProcessResult unknown = ctl({"--bogus", "status"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown option '--bogus'"), std::string::npos) << unknown.err;
  EXPECT_EQ(ctl({}).exit_code, 2);
  EXPECT_EQ(ctl({"--socket"}).exit_code, 2);
  EXPECT_EQ(ctl({"--timeout", "0", "status"}).exit_code, 2);
}

}  // namespace
}  // namespace gwsync::syncd
