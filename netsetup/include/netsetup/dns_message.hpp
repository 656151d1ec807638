#pragma once
// DNS wire format (RFC 1035) for the embedded resolver: parse a query, build
// answers and errors. Only what the resolver needs; everything is bounds
// checked and a malformed packet is an error, never a crash. Pure.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dind/base/result.hpp"
#include "netsetup/addr.hpp"

namespace netsetup::dns {

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypePtr = 12;
inline constexpr uint16_t kTypeMx = 15;
inline constexpr uint16_t kTypeAaaa = 28;
inline constexpr uint16_t kTypeOpt = 41;
inline constexpr uint16_t kClassIn = 1;

enum class Rcode : uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5
};

struct Query {
  uint16_t id = 0;
  bool recursion_desired = false;
  std::string name;  // lower-case, no trailing dot; "" is the root
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  uint16_t udp_size = 512;    // from EDNS0 OPT, else 512
  std::string question_wire;  // the question section as received (echoed back)
};

// Parses a query: QR=0, opcode QUERY, exactly one question. Returns
// kInvalidArgument for anything malformed (callers answer FORMERR when at
// least the 12-byte header was readable; see header_id()).
dind::base::Result<Query> parse_query(std::string_view packet);
// The ID of a packet with at least a header, for error replies.
std::optional<uint16_t> header_id(std::string_view packet);

// Encodes a name as wire labels; kInvalidArgument for labels > 63 or a name
// > 253 bytes.
dind::base::Result<std::string> encode_name(std::string_view name);
// Decodes a (possibly compressed) name at offset; advances offset past it.
dind::base::Result<std::string> decode_name(std::string_view packet, size_t& offset);

// A response to `q` with A answers (or AAAA when aaaa is non-empty), TTL
// seconds, truncated (TC set, answers dropped) when larger than max_size.
std::string build_response(const Query& q, Rcode rcode, const std::vector<Ipv4>& a,
                           const std::vector<std::array<uint8_t, 16>>& aaaa, uint32_t ttl,
                           size_t max_size);
// A header-only error reply (FORMERR etc.) for a packet we could not parse.
std::string build_error(uint16_t id, Rcode rcode);

struct ResponseSummary {  // for tests and tools
  uint16_t id = 0;
  Rcode rcode = Rcode::kNoError;
  bool truncated = false;
  std::vector<Ipv4> a;
  size_t answers = 0;
};
dind::base::Result<ResponseSummary> parse_response(std::string_view packet);
std::string build_query(uint16_t id, std::string_view name, uint16_t qtype);

}  // namespace netsetup::dns
