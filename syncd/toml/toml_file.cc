#include "syncd/toml/toml_file.h"

#include <fstream>

namespace gwsync::syncd {

namespace {

constexpr size_t kMaxFileBytes = 1 << 20;

}  // namespace

Result<toml::table, std::string> parseTomlFile(const std::string& path) {
  const auto fileError = [&path](const std::string& message, const std::string& where = "") {
    return fail(path + where + ": " + message);
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) return fileError("cannot open");
  // One byte more than allowed, so that a file of exactly 1 MiB is told from a larger one.
  std::string text(kMaxFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return fileError("cannot read");
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxFileBytes) return fileError("larger than 1 MiB; not a config");
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return fileError("syntax error: " + std::string(e.description()),
                     ":" + std::to_string(e.source().begin.line) + ":" +
                         std::to_string(e.source().begin.column));
  }
}

}  // namespace gwsync::syncd
