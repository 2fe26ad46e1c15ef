#include "syncd/app/control_server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <exception>
#include <unordered_set>
#include <vector>

#include "syncd/app/log.h"

namespace gwsync::syncd {

namespace asio = boost::asio;
using Local = asio::local::stream_protocol;
using boost::system::error_code;

namespace {

class Connection;

// Printable and short: the reply echoes what the client sent, and a terminal shows the reply.
std::string sanitize(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 64)) {
    out +=
        (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) ? '?' : c;
  }
  return text.size() > 64 ? out + "..." : out;
}

std::string_view trim(std::string_view s) {
  const size_t first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

enum class Probe : uint8_t { kNothing, kStale, kAnswers, kNotASocket, kFailed };

// What is at the socket path now. A socket file stays behind when a daemon dies without stop();
// whether anything answers on it tells a leftover from a running daemon.
Probe probe(const std::string& path, std::string& why) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Probe::kNothing;
    why = std::strerror(errno);
    return Probe::kFailed;
  }
  if (!S_ISSOCK(st.st_mode)) return Probe::kNotASocket;
  // Non-blocking: a blocking connect to a daemon whose backlog is full would wait, and EAGAIN
  // already says that someone listens.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    why = std::strerror(errno);
    return Probe::kFailed;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  ::close(fd);
  if (rc == 0 || err == EAGAIN || err == EINPROGRESS) return Probe::kAnswers;
  if (err == ECONNREFUSED) return Probe::kStale;
  why = std::strerror(err);
  return Probe::kFailed;
}

// Makes way for bind: nothing at the path, or a stale socket that is removed; anything else is
// an error that names the path.
Result<Ok, std::string> clearPath(const std::string& path) {
  std::string why;
  switch (probe(path, why)) {
    case Probe::kNothing:
      break;
    case Probe::kStale:
      // Between the probe and this unlink another daemon could bind a new socket here; two
      // daemons starting in the same instant is left to the service manager to prevent.
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return fail("cannot remove stale control socket " + path + ": " + std::strerror(errno));
      }
      logLine(Prio::kInfo, "control: removed stale socket %s", path.c_str());
      break;
    case Probe::kAnswers:
      return fail("control socket " + path +
                  " answers: another gwsyncd is running (stop it, or set control.socket)");
    case Probe::kNotASocket:
      return fail("control socket path " + path + " exists and is not a socket; not replacing it");
    case Probe::kFailed:
      return fail("cannot check control socket " + path + ": " + why);
  }
  return Ok{};
}

}  // namespace

struct ControlServer::State : std::enable_shared_from_this<State> {
  State(asio::io_context& io, Options o) : acceptor(io), retry_timer(io), options(std::move(o)) {}

  void accept();
  void onAccept(const error_code& ec, Local::socket socket);
  std::string dispatch(std::string_view line) const;
  void stop();

  Local::acceptor acceptor;
  asio::steady_timer retry_timer;
  Options options;
  std::unordered_set<Connection*> connections;
  bool stopped = false;
  // The socket file we created: stop() removes only that one, not a successor's.
  dev_t file_dev = 0;
  ino_t file_ino = 0;
};

namespace {

// One client: read a line, reply, close. Pending operations hold it (and through it the State)
// alive; it leaves the server's set when the last one completes.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ControlServer::State> state, Local::socket socket)
      : state_(std::move(state)), socket_(std::move(socket)), timer_(socket_.get_executor()) {
    state_->connections.insert(this);
  }
  ~Connection() { state_->connections.erase(this); }

  void start() {
    armTimer();
    asio::async_read_until(
        socket_, asio::dynamic_buffer(request_, state_->options.max_request_bytes), '\n',
        [self = shared_from_this()](const error_code& ec, size_t n) { self->onRead(ec, n); });
  }

  void close() {
    error_code ignored;
    timer_.cancel();
    socket_.shutdown(Local::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  void armTimer() {
    timer_.expires_after(state_->options.io_timeout);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->close();  // a client that stalls gets no reply; its read or write fails
    });
  }

  void onRead(const error_code& ec, size_t n) {
    if (ec == asio::error::not_found) {
      return reply("error: request longer than " +
                   std::to_string(state_->options.max_request_bytes) + " bytes\n");
    }
    // A client that sends its request without the newline and then shuts down its side still
    // gets an answer.
    if (ec == asio::error::eof && !request_.empty()) return reply(state_->dispatch(request_));
    if (ec) return close();
    reply(state_->dispatch(std::string_view(request_).substr(0, n - 1)));
  }

  void reply(std::string text) {
    reply_ = std::move(text);
    armTimer();
    asio::async_write(socket_, asio::buffer(reply_),
                      [self = shared_from_this()](const error_code&, size_t) { self->close(); });
  }

  std::shared_ptr<ControlServer::State> state_;
  Local::socket socket_;
  asio::steady_timer timer_;
  std::string request_;
  std::string reply_;
};

}  // namespace

void ControlServer::State::accept() {
  acceptor.async_accept([self = shared_from_this()](const error_code& ec, Local::socket socket) {
    self->onAccept(ec, std::move(socket));
  });
}

void ControlServer::State::onAccept(const error_code& ec, Local::socket socket) {
  if (stopped || ec == asio::error::operation_aborted) return;
  if (ec) {
    // EMFILE and friends fail again at once: pause instead of spinning on the error.
    logLine(Prio::kWarning, "control: accept on %s: %s", options.path.c_str(),
            ec.message().c_str());
    retry_timer.expires_after(std::chrono::milliseconds(100));
    retry_timer.async_wait([self = shared_from_this()](const error_code& wait_ec) {
      if (!wait_ec && !self->stopped) self->accept();
    });
    return;
  }
  if (connections.size() >= options.max_connections) {
    // A fresh socket's buffer is empty, so this short send cannot block.
    error_code ignored;
    socket.send(asio::buffer(std::string_view("error: busy, try again\n")), 0, ignored);
    socket.close(ignored);
  } else {
    std::make_shared<Connection>(shared_from_this(), std::move(socket))->start();
  }
  accept();
}

std::string ControlServer::State::dispatch(std::string_view line) const {
  line = trim(line);
  if (line.empty()) return "error: empty request\n";
  const size_t space = line.find_first_of(" \t");
  const std::string_view command = line.substr(0, space);
  const std::string_view args =
      space == std::string_view::npos ? std::string_view() : trim(line.substr(space));
  const auto it = options.commands.find(command);
  if (it == options.commands.end()) return "error: unknown command '" + sanitize(command) + "'\n";
  std::string reply;
  try {
    reply = it->second(command, args);
  } catch (const std::exception& e) {
    logLine(Prio::kErr, "control: command '%s' failed: %s", sanitize(command).c_str(), e.what());
    return "error: internal\n";
  } catch (...) {
    logLine(Prio::kErr, "control: command '%s' failed", sanitize(command).c_str());
    return "error: internal\n";
  }
  if (!reply.empty() && reply.back() != '\n') reply += '\n';
  return reply;
}

void ControlServer::State::stop() {
  if (stopped) return;
  stopped = true;
  error_code ignored;
  acceptor.close(ignored);
  retry_timer.cancel();
  // close() does not erase: a connection leaves the set when its pending operations finish.
  const std::vector<Connection*> open(connections.begin(), connections.end());
  for (Connection* c : open) c->close();
  struct stat st {};
  if (file_ino != 0 && ::lstat(options.path.c_str(), &st) == 0 && st.st_dev == file_dev &&
      st.st_ino == file_ino) {
    ::unlink(options.path.c_str());
  }
}

Result<std::unique_ptr<ControlServer>, std::string> ControlServer::start(asio::io_context& io,
                                                                         Options options) {
  const std::string path = options.path;
  if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path)) {
    return fail("control socket path '" + path + "' is empty or longer than " +
                std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
  }
  if (auto cleared = clearPath(path); !cleared) return fail(cleared.error());

  auto state = std::make_shared<State>(io, std::move(options));
  error_code ec;
  state->acceptor.open(Local(), ec);
  // Linux creates the file with the socket inode's mode less the umask: restricting the mode
  // before bind means the file is never, even briefly, open to more users than intended.
  if (!ec && ::fchmod(state->acceptor.native_handle(), state->options.file_mode) != 0) {
    ec = error_code(errno, boost::system::system_category());
  }
  if (!ec) state->acceptor.bind(Local::endpoint(path), ec);
  if (ec) return fail("cannot bind control socket " + path + ": " + ec.message());
  struct stat st {};
  // chmod after bind too: the umask may have removed bits (group write) that gwsyncctl needs.
  if (::chmod(path.c_str(), state->options.file_mode) != 0 || ::lstat(path.c_str(), &st) != 0) {
    const std::string err = std::strerror(errno);
    ::unlink(path.c_str());
    return fail("cannot set the mode of control socket " + path + ": " + err);
  }
  state->file_dev = st.st_dev;
  state->file_ino = st.st_ino;
  state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    ::unlink(path.c_str());
    return fail("cannot listen on control socket " + path + ": " + ec.message());
  }
  state->accept();
  return std::unique_ptr<ControlServer>(new ControlServer(std::move(state)));
}

ControlServer::~ControlServer() { stop(); }

void ControlServer::stop() { state_->stop(); }

const std::string& ControlServer::path() const { return state_->options.path; }

}  // namespace gwsync::syncd
