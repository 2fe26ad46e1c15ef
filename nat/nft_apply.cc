#include "nat/nft_apply.h"

#include <nftables/libnftables.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <tuple>
#include <utility>

#include "nat/nft_render.h"

namespace gwsync::nat {

using syncd::fail;
using syncd::Ok;

namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// libnftables prefixes an error with its location, "<input>:LINE:COL-COL: Error: ...". Returns
// the line number (0 if there is none) and the message from "Error:" on.
std::pair<uint32_t, std::string> firstError(std::string_view output) {
  const std::string_view first = output.substr(0, output.find('\n'));
  const size_t err = first.find("Error:");
  if (err == std::string_view::npos) return {0, std::string(first)};
  const std::string message(first.substr(err));
  // "<input>:6:43-51: " before it; our input name (/proc/self/fd/N) has no ':'.
  const std::string_view head = first.substr(0, err);
  const size_t colon = head.find(':');
  if (colon == std::string_view::npos) return {0, message};
  const std::string_view rest = head.substr(colon + 1);
  uint32_t line = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), line);
  if (ec != std::errc() || end == rest.data() || *end != ':') return {0, message};
  return {line, message};
}

// The commands go to libnftables as a file (an anonymous memfd) rather than a buffer: version
// 1.0.6 misplaces error locations in buffers (it always quotes the first line), while for a file
// it names the right line and column. Parsing and the single transaction are the same.
class CommandFile {
 public:
  explicit CommandFile(std::string_view text) : fd_(memfd_create("gwsync_nat", MFD_CLOEXEC)) {
    size_t done = 0;
    while (fd_ >= 0 && done < text.size()) {
      const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd_);
        fd_ = -1;
        break;
      }
      done += static_cast<size_t>(n);
    }
  }
  ~CommandFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  CommandFile(const CommandFile&) = delete;
  CommandFile& operator=(const CommandFile&) = delete;

  bool ok() const { return fd_ >= 0; }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

std::string lineOf(std::string_view text, uint32_t number) {
  size_t start = 0;
  for (uint32_t n = 1; n < number; ++n) {
    start = text.find('\n', start);
    if (start == std::string_view::npos) return "";
    ++start;
  }
  const size_t end = text.find('\n', start);
  return std::string(text.substr(start, end == std::string_view::npos ? end : end - start));
}

}  // namespace

std::string NftError::toString() const {
  std::string out = "nftables: " + message;
  if (line_number != 0) out += " (line " + std::to_string(line_number) + ": " + line + ")";
  return out;
}

void NftApplier::CtxDeleter::operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }

syncd::Result<NftApplier, std::string> NftApplier::open() {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) return fail(std::string("nft_ctx_new failed"));
  NftApplier applier(ctx);
  // Both buffered: a daemon must not write nftables' output or errors to its stdout/stderr.
  if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
    return fail(std::string("nft_ctx_buffer_output/error failed"));
  }
  return applier;
}

syncd::Result<Ok, NftError> NftApplier::run(std::string_view commands) {
  auto r = runKeepingOutput(commands);
  nft_ctx_get_output_buffer(ctx_.get());  // reading resets it: nothing piles up across calls
  return r;
}

syncd::Result<Ok, NftError> NftApplier::runKeepingOutput(std::string_view commands) {
  const std::string text(commands);  // libnftables wants a NUL-terminated buffer
  const CommandFile file(text);
  // Without a memfd (very old kernel, seccomp) the buffer still works, only without locations.
  const int rc = file.ok() ? nft_run_cmd_from_filename(ctx_.get(), file.path().c_str())
                           : nft_run_cmd_from_buffer(ctx_.get(), text.c_str());
  if (rc == 0) return Ok{};
  NftError e;
  e.output = trimmed(nft_ctx_get_error_buffer(ctx_.get()));
  std::tie(e.line_number, e.message) = firstError(e.output);
  if (e.message.empty()) e.message = "nftables refused the commands (no message)";
  if (e.line_number != 0) e.line = lineOf(text, e.line_number);
  return fail(std::move(e));
}

syncd::Result<Ok, NftError> NftApplier::replaceTable(std::string_view table_text) {
  return run(replaceTableCommands(table_text));
}

syncd::Result<Ok, NftError> NftApplier::removeTable() { return run(removeTableCommands()); }

syncd::Result<std::string, NftError> NftApplier::listTable() {
  auto r = runKeepingOutput("list table " + std::string(kNatTableFamily) + " " +
                            std::string(kNatTableName));
  if (!r) return fail(r.error());
  return std::string(nft_ctx_get_output_buffer(ctx_.get()));
}

}  // namespace gwsync::nat
