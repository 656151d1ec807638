#include "dind/image/reference.hpp"

#include <cctype>

namespace dind::image {
using base::ErrorKind;
using base::make_error;
using base::Result;

namespace {

constexpr size_t kMaxNameLength = 255;

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// A path component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
bool valid_component(std::string_view c) {
  size_t i = 0;
  auto alnum_run = [&] {
    size_t start = i;
    while (i < c.size() && is_lower_alnum(c[i])) {
      ++i;
    }
    return i > start;
  };
  if (!alnum_run()) {
    return false;
  }
  while (i < c.size()) {
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      ++i;
      if (i < c.size() && c[i] == '_') {
        ++i;
      }
    } else if (c[i] == '-') {
      while (i < c.size() && c[i] == '-') {
        ++i;
      }
    } else {
      return false;
    }
    if (!alnum_run()) {
      return false;
    }
  }
  return true;
}

// A registry host: DNS-ish labels, or a bracketed IPv6, with an optional port.
bool valid_domain(std::string_view d) {
  std::string_view host = d;
  if (!d.empty() && d[0] == '[') {
    auto close = d.find(']');
    if (close == std::string_view::npos) {
      return false;
    }
    for (char c : d.substr(1, close - 1)) {
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':')) {
        return false;
      }
    }
    host = {};
    d = d.substr(close + 1);
  } else {
    auto colon = d.find(':');
    host = d.substr(0, colon);
    d = colon == std::string_view::npos ? std::string_view{} : d.substr(colon);
  }
  if (!host.empty() || d.empty()) {
    size_t label = 0;
    for (size_t i = 0; i <= host.size(); ++i) {
      if (i == host.size() || host[i] == '.') {
        if (label == 0 || host[i - 1] == '-') {
          return false;
        }
        label = 0;
        continue;
      }
      const char c = host[i];
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-') || (label == 0 && c == '-')) {
        return false;
      }
      ++label;
    }
  }
  if (!d.empty()) {  // ":port"
    if (d[0] != ':' || d.size() < 2) {
      return false;
    }
    for (char c : d.substr(1)) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        return false;
      }
    }
  }
  return true;
}

bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > 128) {
    return false;
  }
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(t[0])) {
    return false;
  }
  for (char c : t) {
    if (!(word(c) || c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

base::Error invalid() {
  return make_error(ErrorKind::kInvalidArgument, "invalid reference format");
}

}  // namespace

bool valid_digest(std::string_view d) {
  if (d.size() != 71 || d.substr(0, 7) != "sha256:") {
    return false;
  }
  for (char c : d.substr(7)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

bool looks_like_id_prefix(std::string_view t) {
  if (t.substr(0, 7) == "sha256:") {
    t.remove_prefix(7);
  }
  if (t.empty() || t.size() > 64) {
    return false;
  }
  for (char c : t) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

std::string Reference::to_string() const {
  std::string s = name();
  if (tag) {
    s += ":" + *tag;
  }
  if (digest) {
    s += "@" + *digest;
  }
  return s;
}

std::string Reference::familiar_name() const {
  if (domain == "docker.io") {
    if (path.rfind("library/", 0) == 0 && path.find('/', 8) == std::string::npos) {
      return path.substr(8);
    }
    return path;
  }
  return name();
}

std::string Reference::familiar() const {
  std::string s = familiar_name();
  if (tag) {
    s += ":" + *tag;
  }
  if (digest) {
    s += "@" + *digest;
  }
  return s;
}

Result<Reference> parse_reference(std::string_view text, bool default_tag) {
  if (text.empty()) {
    return invalid();
  }
  Reference r;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    if (!valid_digest(digest)) {
      return invalid();
    }
    r.digest = std::string(digest);
    rest = rest.substr(0, at);
  }
  // A tag follows the last ':' that comes after the last '/'.
  const size_t slash = rest.rfind('/');
  const size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    std::string_view tag = rest.substr(colon + 1);
    if (!valid_tag(tag)) {
      return invalid();
    }
    r.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) {
    return invalid();
  }
  // The first component is a registry if it looks like a host.
  std::string_view first = rest.substr(0, rest.find('/'));
  std::string_view path = rest;
  if (rest.find('/') != std::string_view::npos &&
      (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
       first == "localhost" ||
       first.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos)) {
    if (!valid_domain(first)) {
      return invalid();
    }
    r.domain = std::string(first);
    path = rest.substr(first.size() + 1);
  } else {
    r.domain = "docker.io";
  }
  if (r.domain == "index.docker.io") {
    r.domain = "docker.io";
  }
  // Components.
  size_t pos = 0;
  bool has_upper = false;
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    std::string_view comp = path.substr(pos, end == std::string_view::npos ? path.npos : end - pos);
    std::string lowered;
    for (char c : comp) {
      has_upper = has_upper || (c >= 'A' && c <= 'Z');
      lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (!valid_component(lowered)) {
      return invalid();
    }
    if (end == std::string_view::npos) {
      break;
    }
    pos = end + 1;
  }
  r.path = std::string(path);
  if (r.domain == "docker.io" && r.path.find('/') == std::string::npos) {
    r.path = "library/" + r.path;
  }
  if (has_upper) {
    return make_error(ErrorKind::kInvalidArgument, "invalid reference format: repository name (" +
                                                       r.path + ") must be lowercase");
  }
  if (r.name().size() > kMaxNameLength) {
    return make_error(ErrorKind::kInvalidArgument, "invalid reference format: repository name (" +
                                                       r.path +
                                                       ") must not be more than 255 characters");
  }
  if (!r.tag && !r.digest && default_tag) {
    r.tag = "latest";
  }
  return r;
}

}  // namespace dind::image
