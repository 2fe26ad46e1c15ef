// ControlServer: the daemon's control socket, which gwsyncctl talks to. Owns the listening Unix
// stream socket, its file in the filesystem and every accepted connection. Runs on the thread that
// runs the io_context it is given and calls the command handlers there, so a handler may read the
// daemon's state without locks; a handler must therefore not block.
//
// Protocol: one request line per connection ("COMMAND [ARGS]\n"), one reply text, then the server
// closes the connection. A reply that reports a failure starts with "error:".
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "syncd/core/result.h"

namespace gwsync::syncd {

class ControlServer {
 public:
  // Gets the command word and the rest of the line (trimmed); returns the reply text. May throw:
  // the server catches everything and replies "error: internal".
  using Handler = std::function<std::string(std::string_view command, std::string_view args)>;

  struct Options {
    std::string path;
    // Command word -> handler. Anything else gets "error: unknown command 'x'".
    std::map<std::string, Handler, std::less<>> commands;
    uint32_t file_mode = 0660;  // owner and group (gwsyncctl users) may connect
    size_t max_request_bytes = 4096;
    // For reading the request and, separately, for writing the reply: a client that stalls
    // cannot hold a connection open for longer.
    std::chrono::milliseconds io_timeout{5000};
    size_t max_connections = 64;  // more at once are closed at accept
  };

  // Creates the socket file and starts accepting. A socket file nobody answers on is a leftover of
  // a crash and is replaced; one that answers belongs to a running daemon and is an error, as is a
  // path holding anything but a socket. Errors name the path.
  static Result<std::unique_ptr<ControlServer>, std::string> start(boost::asio::io_context& io,
                                                                   Options options);

  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  ~ControlServer();  // stop()

  // Closes the listener and every connection and removes the socket file (unless another process
  // has replaced it since), so io_context::run() returns once nothing else is pending. Call on the
  // io_context's thread, or when it is not running. Idempotent.
  void stop();

  const std::string& path() const;

  struct State;  // shared with the connections' pending operations; defined in the .cc

 private:
  explicit ControlServer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace gwsync::syncd
