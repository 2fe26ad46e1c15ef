// gwsync-notify-listen PATH: plays systemd's side of sd_notify for tests. Binds a Unix datagram
// socket at PATH and prints every message received, one line each, prefixed by the milliseconds
// since it started, until SIGTERM. Point a daemon's NOTIFY_SOCKET at PATH.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: gwsync-notify-listen PATH\n");
    return 2;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (std::strlen(argv[1]) >= sizeof(addr.sun_path)) {
    std::fprintf(stderr, "gwsync-notify-listen: path too long: %s\n", argv[1]);
    return 2;
  }
  std::strcpy(addr.sun_path, argv[1]);
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ::unlink(argv[1]);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::fprintf(stderr, "gwsync-notify-listen: %s: %s\n", argv[1], std::strerror(errno));
    return 1;
  }
  std::signal(SIGTERM, [](int) { std::_Exit(0); });
  std::printf("listening\n");
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "gwsync-notify-listen: recv: %s\n", std::strerror(errno));
      return 1;
    }
    std::string msg(buf, static_cast<size_t>(n));
    for (char& c : msg) {
      if (c == '\n') c = ' ';
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start).count();
    std::printf("%lld %s\n", static_cast<long long>(ms), msg.c_str());
    std::fflush(stdout);
  }
}
