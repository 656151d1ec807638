#pragma once
// Small text helpers shared by the libraries.

#include <optional>
#include <string>
#include <string_view>

namespace dind::base {

std::string ascii_lower(std::string_view s);

// s without leading and trailing ASCII whitespace.
std::string trim(std::string_view s);

// A host name in the RFC 1123 sense, plus '_' (seen in container names) and
// an optional leading "*." wildcard label when allow_wildcard: labels of 1-63
// of [A-Za-z0-9_-], not starting or ending with '-', at most 253 bytes.
bool valid_dns_name(std::string_view name, bool allow_wildcard = false);

// n random lowercase hex characters (temp names; not for secrets).
std::string random_hex(size_t n);

// Base64 (RFC 4648 section 4, with padding).
std::string base64_encode(std::string_view data);
// Decodes standard or URL-safe base64 ('-' and '_' for '+' and '/'), padded
// or not, as the X-Registry-Auth header arrives from the various clients;
// nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace dind::base
