#pragma once
// Parallel, deterministic gzip for pushed layers (pigz's scheme): the input
// is cut into fixed blocks, each deflated on its own thread and ended with a
// sync flush (the last with the final block), and the pieces concatenated
// under one gzip header (mtime 0) with the combined CRC-32. Any gzip reader
// inflates the result; the same input always gives the same bytes, so a
// re-push produces the same blob digests.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "dind/base/result.hpp"

namespace dind::registry {

inline constexpr size_t kGzipBlock = 1u << 20;

// Reads up to len bytes; 0 at the end; -1 on error.
using ByteSource = std::function<ssize_t(char* buf, size_t len)>;
// Receives the compressed stream in order.
using ByteSink = std::function<base::Status(std::string_view)>;

// Compresses `source` into `sink` with `threads` workers (>= 1) at `level`.
base::Status gzip_parallel(const ByteSource& source, const ByteSink& sink, unsigned threads,
                           int level = 6);

}  // namespace dind::registry
