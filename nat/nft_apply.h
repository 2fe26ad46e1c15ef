// NftApplier: the RulesetApplier on libnftables. Owns one nft_ctx, whose netlink socket lives in
// the network namespace of the thread that opened it (open() inside a NetnsGuard to act on
// another namespace). Synchronous: one netlink transaction per call, run on the daemon's thread
// at start-up, SIGHUP and shutdown only. Errors are captured in memory (nft_ctx_buffer_error),
// never printed; commands go through an anonymous memfd so that errors name the right line (see
// nft_apply.cc). Not thread-safe; move-only.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "nat/ruleset_applier.h"
#include "syncd/core/result.h"

struct nft_ctx;  // libnftables; its header stays in nft_apply.cc

namespace gwsync::nat {

class NftApplier final : public RulesetApplier {
 public:
  static syncd::Result<NftApplier, std::string> open();

  [[nodiscard]] syncd::Result<syncd::Ok, NftError> replaceTable(
      std::string_view table_text) override;
  [[nodiscard]] syncd::Result<syncd::Ok, NftError> removeTable() override;

  // Runs nft commands (one transaction per buffer). For tools and tests.
  [[nodiscard]] syncd::Result<syncd::Ok, NftError> run(std::string_view commands);
  // `nft list table inet gwsync_nat` as text; an error when the table does not exist.
  [[nodiscard]] syncd::Result<std::string, NftError> listTable();

 private:
  struct CtxDeleter {
    void operator()(nft_ctx* ctx) const;
  };
  explicit NftApplier(nft_ctx* ctx) : ctx_(ctx) {}
  syncd::Result<syncd::Ok, NftError> runKeepingOutput(std::string_view commands);

  std::unique_ptr<nft_ctx, CtxDeleter> ctx_;
};

}  // namespace gwsync::nat
