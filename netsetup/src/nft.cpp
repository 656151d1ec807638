#include "netsetup/nft.hpp"

#include <nftables/libnftables.h>

#include <memory>

namespace netsetup {
using dind::base::ErrorKind;
using dind::base::make_error;

namespace {

struct CtxDeleter {
  void operator()(nft_ctx* c) const { nft_ctx_free(c); }
};
using Ctx = std::unique_ptr<nft_ctx, CtxDeleter>;

// Runs one command buffer; output and errors are captured, never printed.
dind::base::Result<std::string> run(std::string_view script, ErrorKind failure_kind) {
  Ctx ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) {
    return make_error(ErrorKind::kInternal, "nftables: cannot create a context");
  }
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  const std::string text(script);
  if (nft_run_cmd_from_buffer(ctx.get(), text.c_str()) != 0) {
    std::string err = nft_ctx_get_error_buffer(ctx.get());
    while (!err.empty() && err.back() == '\n') {
      err.pop_back();
    }
    return make_error(failure_kind, "nftables: " + err);
  }
  return std::string(nft_ctx_get_output_buffer(ctx.get()));
}

}  // namespace

dind::base::Status nft_apply(std::string_view script) {
  auto r = run(script, ErrorKind::kInternal);
  if (!r) {
    return std::move(r).error();
  }
  return {};
}

dind::base::Result<std::string> nft_list_table(const std::string& name) {
  return run("list table ip " + name, ErrorKind::kNotFound);
}

}  // namespace netsetup
