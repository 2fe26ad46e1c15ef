// CommandLine: what gwsync's small tools (gwsync-ct, gwsync-nat, gwsync-lb, the benchmarks) share
// on the command line, so that they agree: "TOOL COMMAND --option value ...", -h/--help, every
// message "TOOL: ..." on stderr, exit 2 with the usage for a usage error and 1 for a failure.
// Header-only and std only: a tool of any folder includes it without linking a layer it must not.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace gwsync::syncd {

// text as a whole integer (strtol's syntax: base 16 takes an optional 0x) in min..max, else
// nullopt.
inline std::optional<long> parseLong(const std::string& text, long min, long max, int base = 10) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text.c_str(), &end, base);
  if (text.empty() || *end != '\0' || errno != 0 || v < min || v > max) return std::nullopt;
  return v;
}

class CommandLine {
 public:
  // tool: "gwsync-lb", the prefix of every message; usage: printed after a usage error and for
  // -h/--help.
  constexpr CommandLine(const char* tool, const char* usage) : tool_(tool), usage_(usage) {}

  // "TOOL: msg" and the usage on stderr; exit 2.
  [[noreturn]] void usageError(const std::string& msg) const {
    std::fprintf(stderr, "%s: %s\n%s", tool_, msg.c_str(), usage_);
    std::exit(2);
  }

  // "TOOL: msg" on stderr; exit 1.
  [[noreturn]] void die(const std::string& msg) const {
    std::fprintf(stderr, "%s: %s\n", tool_, msg.c_str());
    std::exit(1);
  }

  // argv[1]. -h or --help prints the usage on stdout and exits 0; none is a usage error.
  std::string command(int argc, char** argv) const {
    if (argc < 2) usageError("missing command");
    std::string cmd = argv[1];
    if (cmd == "-h" || cmd == "--help") {
      std::fputs(usage_, stdout);
      std::exit(0);
    }
    return cmd;
  }

  // The same, and a usage error "unknown command X" unless X is one of `commands`.
  std::string command(int argc, char** argv,
                      std::initializer_list<std::string_view> commands) const {
    std::string cmd = command(argc, argv);
    bool known = false;
    for (const std::string_view c : commands) known = known || cmd == c;
    if (!known) usageError("unknown command " + cmd);
    return cmd;
  }

  // fn(option, value) for each "--option value" after the command; an option of `flags` takes no
  // value (fn(option, "")). The last option without its value is a usage error.
  template <class Fn>
  void forEachOption(int argc, char** argv, std::initializer_list<std::string_view> flags,
                     Fn&& fn) const {
    for (int i = 2; i < argc; ++i) {
      const std::string opt = argv[i];
      bool flag = false;
      for (const std::string_view f : flags) flag = flag || opt == f;
      if (flag) {
        fn(opt, std::string());
        continue;
      }
      if (i + 1 >= argc) usageError("option " + opt + " needs a value");
      fn(opt, std::string(argv[++i]));
    }
  }

  // The value of option opt as a number in min..max, else a usage error naming both.
  long number(const std::string& opt, const std::string& val, long min, long max,
              int base = 10) const {
    const auto v = parseLong(val, min, max, base);
    if (!v) {
      usageError(opt + ": '" + val + "' is not a number in " + std::to_string(min) + ".." +
                 std::to_string(max));
    }
    return *v;
  }

 private:
  const char* tool_;
  const char* usage_;
};

}  // namespace gwsync::syncd
