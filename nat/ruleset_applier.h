// RulesetApplier: the role that puts gwsync's rendered NAT table into the kernel. The daemon holds
// one (NftApplier, nft_apply.h, in production; a fake in its tests) and calls replaceTable() at
// start and on SIGHUP, removeTable() on shutdown. Pure interface: no nftables header here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "syncd/core/result.h"

namespace gwsync::nat {

// What nftables refused: its first error, plus the line of our text it points at.
struct NftError {
  std::string message;       // "Error: ..." without the input name, or what failed
  uint32_t line_number = 0;  // 1-based line of the submitted commands; 0 if not known
  std::string line;          // that line, as rendered
  std::string output;        // everything libnftables printed (several errors, markers)
  // "nftables: <message> (line N: <line>)" on one line.
  std::string toString() const;
};

class RulesetApplier {
 public:
  virtual ~RulesetApplier() = default;
  // Creates or replaces table inet gwsync_nat with table_text (renderTable()) in one
  // transaction: on failure the kernel keeps the previous table unchanged.
  [[nodiscard]] virtual syncd::Result<syncd::Ok, NftError> replaceTable(
      std::string_view table_text) = 0;
  // Deletes the table; succeeds when it does not exist.
  [[nodiscard]] virtual syncd::Result<syncd::Ok, NftError> removeTable() = 0;
};

}  // namespace gwsync::nat
