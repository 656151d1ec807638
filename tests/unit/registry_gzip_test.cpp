#include <zlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <optional>
#include <random>

#include "dind/base/text.hpp"
#include "dind/registry/gzip.hpp"

using namespace dind::registry;
using dind::base::ErrorKind;

namespace {

// A source over `data` that hands out at most `chunk` bytes per call.
ByteSource source_of(const std::string& data, size_t chunk = SIZE_MAX) {
  auto pos = std::make_shared<size_t>(0);
  return [&data, pos, chunk](char* buf, size_t len) -> ssize_t {
    const size_t n = std::min({len, chunk, data.size() - *pos});
    std::memcpy(buf, data.data() + *pos, n);
    *pos += n;
    return static_cast<ssize_t>(n);
  };
}

dind::base::Result<std::string> gzip(const std::string& data, unsigned threads,
                                     size_t chunk = SIZE_MAX) {
  std::string out;
  auto st = gzip_parallel(
      source_of(data, chunk),
      [&out](std::string_view piece) -> dind::base::Status {
        out.append(piece);
        return {};
      },
      threads);
  if (!st) {
    return std::move(st).error();
  }
  return out;
}

// What any gzip reader makes of `gz`: the inflated bytes, or nullopt when
// the stream is corrupt, truncated, or followed by garbage.
std::optional<std::string> gunzip(const std::string& gz) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) {
    return std::nullopt;
  }
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  char buf[65536];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  }
  const bool whole = rc == Z_STREAM_END && zs.avail_in == 0;
  inflateEnd(&zs);
  if (!whole) {
    return std::nullopt;
  }
  return out;
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) {
    c = static_cast<char>(rng() & 0xff);
  }
  return s;
}

std::string compressible(size_t n) {
  std::string s;
  s.reserve(n + 64);
  for (size_t i = 0; s.size() < n; ++i) {
    s += "usr/lib/x86_64-linux-gnu/libexample.so." + std::to_string(i % 97) + "\n";
  }
  s.resize(n);
  return s;
}

uint32_t le32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  }
  return v;
}

}  // namespace

// ---------------------------------------------------------------------------
// gzip_parallel

TEST_CASE("gzip_parallel round-trips through zlib at every size", "[registry][gzip]") {
  struct Row {
    std::string name;
    std::string data;
  };
  const Row rows[] = {
      {"empty", ""},
      {"1 byte", "x"},
      {"one block", random_bytes(kGzipBlock, 1)},
      {"one block + 1", random_bytes(kGzipBlock + 1, 2)},
      {"one block - 1", compressible(kGzipBlock - 1)},
      {"random, several MiB", random_bytes(3 * kGzipBlock + 12345, 3)},
      {"compressible, several MiB", compressible(5 * kGzipBlock + 777)},
      {"zeros, two blocks", std::string(2 * kGzipBlock, '\0')},
  };
  for (const auto& r : rows) {
    std::optional<std::string> first;
    for (unsigned threads : {1u, 4u}) {
      INFO(r.name << ", " << threads << " threads");
      auto gz = gzip(r.data, threads);
      REQUIRE(gz.ok());
      // Header: magic, deflate, no flags, mtime 0, OS unix.
      REQUIRE(gz->size() >= 18);
      CHECK(gz->substr(0, 10) == std::string("\x1f\x8b\x08\0\0\0\0\0\0\x03", 10));
      // Trailer: CRC-32 and size mod 2^32.
      const uint32_t crc = static_cast<uint32_t>(crc32(
          0L, reinterpret_cast<const Bytef*>(r.data.data()), static_cast<uInt>(r.data.size())));
      CHECK(le32(*gz, gz->size() - 8) == crc);
      CHECK(le32(*gz, gz->size() - 4) == static_cast<uint32_t>(r.data.size()));

      auto plain = gunzip(*gz);
      REQUIRE(plain.has_value());
      CHECK(plain->size() == r.data.size());
      CHECK(*plain == r.data);
      // Identical bytes whatever the thread count.
      if (first) {
        CHECK(*gz == *first);
      } else {
        first = *gz;
      }
    }
  }
}

TEST_CASE("gzip_parallel compresses", "[registry][gzip]") {
  const std::string data = compressible(4 * kGzipBlock);
  auto gz = gzip(data, 4);
  REQUIRE(gz.ok());
  CHECK(gz->size() < data.size() / 10);
  auto rnd = gzip(random_bytes(kGzipBlock, 9), 2);
  REQUIRE(rnd.ok());
  // Incompressible data grows by little more than the framing.
  CHECK(rnd->size() < kGzipBlock + kGzipBlock / 100);
}

TEST_CASE("gzip_parallel is deterministic across runs, threads and read sizes",
          "[registry][gzip]") {
  std::string data = random_bytes(kGzipBlock + kGzipBlock / 2, 4) + compressible(2 * kGzipBlock);
  auto reference = gzip(data, 1);
  REQUIRE(reference.ok());
  REQUIRE(gunzip(*reference) == data);
  for (unsigned threads : {0u, 1u, 2u, 3u, 4u, 8u}) {
    for (size_t chunk : {size_t(SIZE_MAX), size_t(4096), size_t(99991), size_t(1)}) {
      if (chunk == 1 && threads != 4) {
        continue;  // byte-at-a-time reads once is enough
      }
      INFO(threads << " threads, reads of " << chunk);
      auto gz = gzip(data, threads, chunk);
      REQUIRE(gz.ok());
      CHECK(*gz == *reference);
    }
  }
  for (int run = 0; run < 3; ++run) {
    CHECK(*gzip(data, 4) == *reference);
  }
}

TEST_CASE("gzip_parallel: a failing source is an error", "[registry][gzip]") {
  for (unsigned threads : {1u, 4u}) {
    for (size_t fail_after : {size_t(0), size_t(100), kGzipBlock, 5 * kGzipBlock + 3}) {
      INFO(threads << " threads, failing after " << fail_after << " bytes");
      size_t given = 0;
      ByteSource src = [&](char* buf, size_t len) -> ssize_t {
        if (given >= fail_after) {
          return -1;
        }
        const size_t n = std::min(len, fail_after - given);
        std::memset(buf, 'a', n);
        given += n;
        return static_cast<ssize_t>(n);
      };
      std::string out;
      auto st = gzip_parallel(
          src,
          [&](std::string_view piece) -> dind::base::Status {
            out.append(piece);
            return {};
          },
          threads);
      REQUIRE_FALSE(st.ok());
      CHECK(st.error().kind == ErrorKind::kInternal);
      CHECK_THAT(st.error().message, Catch::Contains("reading the layer"));
      // No trailer was written: the output is not a complete gzip stream.
      CHECK_FALSE(gunzip(out).has_value());
    }
  }
}

TEST_CASE("gzip_parallel: a sink error stops it", "[registry][gzip]") {
  // 32 MiB made up on the fly, more than the blocks in flight.
  const size_t total = 32 * kGzipBlock;
  for (unsigned threads : {1u, 4u}) {
    for (int fail_on_call : {1, 2, 3}) {
      INFO(threads << " threads, sink fails on call " << fail_on_call);
      size_t read = 0;
      ByteSource src = [&](char* buf, size_t len) -> ssize_t {
        const size_t n = std::min(len, total - read);
        for (size_t i = 0; i < n; ++i) {
          buf[i] = static_cast<char>('a' + (read + i) % 23);
        }
        read += n;
        return static_cast<ssize_t>(n);
      };
      int calls = 0;
      int calls_after_error = 0;
      auto st = gzip_parallel(
          src,
          [&](std::string_view) -> dind::base::Status {
            ++calls;
            if (calls > fail_on_call) {
              ++calls_after_error;
            }
            if (calls >= fail_on_call) {
              return dind::base::make_error(ErrorKind::kUnavailable, "upload broke");
            }
            return {};
          },
          threads);
      REQUIRE_FALSE(st.ok());
      CHECK(st.error().kind == ErrorKind::kUnavailable);
      CHECK(st.error().message == "upload broke");
      CHECK(calls == fail_on_call);
      CHECK(calls_after_error == 0);
      // It stopped reading early instead of compressing the whole input:
      // sink call k writes block k-1, and at most 2 blocks per thread are in
      // flight behind the one being written.
      CHECK(read <= (fail_on_call - 1 + 2 * threads) * kGzipBlock);
    }
  }
  // The trailer's write fails too.
  int calls = 0;
  const std::string abc = "abc";
  auto st = gzip_parallel(
      source_of(abc),
      [&](std::string_view piece) -> dind::base::Status {
        ++calls;
        if (piece.size() == 8 && calls == 3) {
          return dind::base::make_error(ErrorKind::kUnavailable, "trailer");
        }
        return {};
      },
      1);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message == "trailer");
  CHECK(calls == 3);
}

TEST_CASE("gzip_parallel: an invalid level is an error", "[registry][gzip]") {
  for (unsigned threads : {1u, 4u}) {
    std::string out;
    const std::string data = compressible(3 * kGzipBlock);
    auto st = gzip_parallel(
        source_of(data),
        [&](std::string_view piece) -> dind::base::Status {
          out.append(piece);
          return {};
        },
        threads, 42);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().kind == ErrorKind::kInternal);
  }
  // Levels zlib accepts all round-trip.
  const std::string data = compressible(kGzipBlock + 5);
  for (int level : {-1, 0, 1, 9}) {
    INFO(level);
    std::string out;
    auto st = gzip_parallel(
        source_of(data),
        [&](std::string_view piece) -> dind::base::Status {
          out.append(piece);
          return {};
        },
        2, level);
    REQUIRE(st.ok());
    CHECK(gunzip(out) == data);
  }
}

// ---------------------------------------------------------------------------
// base64

TEST_CASE("base64 matches RFC 4648's test vectors", "[registry][base64]") {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    INFO(plain);
    CHECK(dind::base::base64_encode(plain) == encoded);
    CHECK(dind::base::base64_decode(encoded) == plain);
    // Unpadded, as some clients send it.
    std::string bare = encoded;
    while (!bare.empty() && bare.back() == '=') {
      bare.pop_back();
    }
    CHECK(dind::base::base64_decode(bare) == plain);
  }
}

TEST_CASE("base64 round-trips every byte; decode takes the URL-safe alphabet",
          "[registry][base64]") {
  std::string all;
  for (int i = 0; i < 256; ++i) {
    all += static_cast<char>(i);
  }
  for (size_t n = 0; n <= all.size(); n += 1 + n / 3) {
    const std::string data = all.substr(all.size() - n);
    INFO(n);
    CHECK(dind::base::base64_decode(dind::base::base64_encode(data)) == data);
  }
  CHECK(dind::base::base64_encode("\xfb\xff") == "+/8=");
  CHECK(dind::base::base64_decode("+/8=") == std::string("\xfb\xff"));
  CHECK(dind::base::base64_decode("-_8=") == std::string("\xfb\xff"));
  CHECK(dind::base::base64_decode("-_8") == std::string("\xfb\xff"));
  CHECK(dind::base::base64_encode(std::string("\xff\xff\xff", 3)) == "////");
  CHECK(dind::base::base64_decode("____") == std::string("\xff\xff\xff", 3));
  CHECK(dind::base::base64_decode("----") == std::string("\xfb\xef\xbe", 3));
}

TEST_CASE("base64_decode survives random input", "[registry][base64]") {
  std::mt19937 rng(4648);
  const std::string alphabet = "AZaz09+/-_=!. \n";
  for (int n = 0; n < 20000; ++n) {
    std::string s(rng() % 24, ' ');
    for (auto& c : s) {
      c = alphabet[rng() % alphabet.size()];
    }
    INFO(s);
    auto d = dind::base::base64_decode(s);
    if (d) {
      CHECK(d->size() <= s.size() * 3 / 4);
      CHECK(dind::base::base64_decode(dind::base::base64_encode(*d)) == *d);
    }
  }
}

TEST_CASE("base64_decode refuses what is not base64", "[registry][base64]") {
  const std::string bad[] = {
      "Z",         // length % 4 == 1
      "Zm9vY",     // length % 4 == 1
      "Zm9vY===",  // ... with padding
      "A===",
      "Zm9v YmFy",  // space
      "Zm9v\nYmFy", " Zm9v", "Zm9v ",
      "Zm=9v",  // padding in the middle
      "Zg==Zg==",   "Zm9v!", "Zm9v*Zm9", "Zm.v", std::string("Zm\0v", 4), "\xc3\xa9\xc3\xa9",
  };
  for (const auto& b : bad) {
    INFO(b);
    CHECK_FALSE(dind::base::base64_decode(b).has_value());
  }
}
