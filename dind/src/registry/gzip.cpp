#include "dind/registry/gzip.hpp"

#include <zlib.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace dind::registry {
using base::ErrorKind;
using base::make_error;

namespace {

struct Block {
  std::string in;
  std::string out;
  uLong crc = 0;
  bool last = false;
  bool done = false;
  bool failed = false;
};

void deflate_block(Block& b, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    b.failed = true;
    return;
  }
  b.out.resize(deflateBound(&zs, b.in.size()) + 64);
  zs.next_in = reinterpret_cast<Bytef*>(b.in.data());
  zs.avail_in = static_cast<uInt>(b.in.size());
  zs.next_out = reinterpret_cast<Bytef*>(b.out.data());
  zs.avail_out = static_cast<uInt>(b.out.size());
  const int rc = deflate(&zs, b.last ? Z_FINISH : Z_SYNC_FLUSH);
  if ((b.last && rc != Z_STREAM_END) || (!b.last && rc != Z_OK)) {
    b.failed = true;
  }
  b.out.resize(b.out.size() - zs.avail_out);
  deflateEnd(&zs);
  b.crc = crc32(0L, reinterpret_cast<const Bytef*>(b.in.data()), static_cast<uInt>(b.in.size()));
}

}  // namespace

base::Status gzip_parallel(const ByteSource& source, const ByteSink& sink, unsigned threads,
                           int level) {
  threads = std::max(1u, threads);
  // The header: magic, deflate, no flags, mtime 0, no extra flags, OS unix.
  static const char kHeader[10] = {'\x1f', '\x8b', 8, 0, 0, 0, 0, 0, 0, 3};
  DIND_TRY(sink(std::string_view(kHeader, sizeof kHeader)));

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::shared_ptr<Block>> queue;  // blocks in input order
  std::deque<std::shared_ptr<Block>> todo;   // blocks waiting for a worker
  bool stop = false;
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < threads; ++i) {
    workers.emplace_back([&] {
      for (;;) {
        std::shared_ptr<Block> b;
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return stop || !todo.empty(); });
          if (todo.empty()) {
            return;
          }
          b = todo.front();
          todo.pop_front();
        }
        deflate_block(*b, level);
        {
          std::lock_guard lock(mu);
          b->done = true;
        }
        cv.notify_all();
      }
    });
  }
  auto finish_workers = [&] {
    {
      std::lock_guard lock(mu);
      stop = true;
    }
    cv.notify_all();
    for (auto& t : workers) {
      t.join();
    }
  };

  uLong crc = crc32(0L, Z_NULL, 0);
  uint64_t total = 0;
  base::Status status;
  // Writes finished blocks at the head of the queue; with `all`, waits.
  auto drain = [&](bool all, size_t keep) -> base::Status {
    for (;;) {
      std::shared_ptr<Block> b;
      {
        std::unique_lock lock(mu);
        if (queue.empty()) {
          return {};
        }
        if (!queue.front()->done) {
          if (!all && queue.size() <= keep) {
            return {};
          }
          cv.wait(lock, [&] { return queue.front()->done; });
        }
        b = queue.front();
        queue.pop_front();
      }
      if (b->failed) {
        return make_error(ErrorKind::kInternal, "deflate failed");
      }
      crc = crc32_combine(crc, b->crc, static_cast<z_off_t>(b->in.size()));
      total += b->in.size();
      DIND_TRY(sink(b->out));
    }
  };

  bool at_end = false;
  while (!at_end) {
    // Fill one block.
    std::string in(kGzipBlock, '\0');
    size_t have = 0;
    while (have < in.size()) {
      const ssize_t n = source(in.data() + have, in.size() - have);
      if (n < 0) {
        finish_workers();
        return make_error(ErrorKind::kInternal, "reading the layer to compress failed");
      }
      if (n == 0) {
        at_end = true;
        break;
      }
      have += static_cast<size_t>(n);
    }
    in.resize(have);
    auto b = std::make_shared<Block>();
    b->in = std::move(in);
    b->last = at_end;
    {
      std::lock_guard lock(mu);
      queue.push_back(b);
      todo.push_back(b);
    }
    cv.notify_all();
    // Keep at most 2 blocks per thread in flight (bounded memory).
    if (auto st = drain(false, 2 * threads); !st) {
      finish_workers();
      return st;
    }
  }
  status = drain(true, 0);
  finish_workers();
  DIND_TRY(status);
  char trailer[8];
  for (int i = 0; i < 4; ++i) {
    trailer[i] = static_cast<char>((crc >> (8 * i)) & 0xff);
    trailer[4 + i] = static_cast<char>((total >> (8 * i)) & 0xff);
  }
  return sink(std::string_view(trailer, sizeof trailer));
}

}  // namespace dind::registry
