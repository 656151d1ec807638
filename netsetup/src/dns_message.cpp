#include "netsetup/dns_message.hpp"

#include <cctype>

namespace netsetup::dns {
using dind::base::ErrorKind;
using dind::base::make_error;
using dind::base::Result;

namespace {

dind::base::Error malformed(const std::string& why) {
  return make_error(ErrorKind::kInvalidArgument, "malformed DNS message: " + why);
}

uint16_t get16(std::string_view p, size_t off) {
  return static_cast<uint16_t>((static_cast<uint8_t>(p[off]) << 8) |
                               static_cast<uint8_t>(p[off + 1]));
}

void put16(std::string& out, uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xff);
}

void put32(std::string& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v >> 16));
  put16(out, static_cast<uint16_t>(v & 0xffff));
}

}  // namespace

std::optional<uint16_t> header_id(std::string_view packet) {
  if (packet.size() < 12) {
    return std::nullopt;
  }
  return get16(packet, 0);
}

Result<std::string> decode_name(std::string_view p, size_t& offset) {
  std::string name;
  size_t pos = offset;
  bool jumped = false;
  int jumps = 0;
  for (;;) {
    if (pos >= p.size()) {
      return malformed("name runs past the end");
    }
    const uint8_t len = static_cast<uint8_t>(p[pos]);
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= p.size()) {
        return malformed("truncated compression pointer");
      }
      const size_t target = ((len & 0x3f) << 8) | static_cast<uint8_t>(p[pos + 1]);
      // Pointers must go backwards; a bounded number stops loops.
      if (target >= pos || ++jumps > 16) {
        return malformed("compression pointer loop");
      }
      if (!jumped) {
        offset = pos + 2;
      }
      jumped = true;
      pos = target;
      continue;
    }
    if ((len & 0xc0) != 0) {
      return malformed("reserved label type");
    }
    if (len == 0) {
      if (!jumped) {
        offset = pos + 1;
      }
      break;
    }
    if (pos + 1 + len > p.size()) {
      return malformed("label runs past the end");
    }
    if (!name.empty()) {
      name += '.';
    }
    for (size_t i = 0; i < len; ++i) {
      const char c = p[pos + 1 + i];
      if (c == '.' || c == '\0') {
        return malformed("a label contains '.' or NUL");
      }
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (name.size() > 253) {
      return malformed("name longer than 253 bytes");
    }
    pos += 1 + len;
  }
  return name;
}

Result<std::string> encode_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  if (name.size() > 253) {
    return make_error(ErrorKind::kInvalidArgument, "DNS name longer than 253 bytes");
  }
  std::string out;
  size_t pos = 0;
  while (pos < name.size()) {
    size_t dot = name.find('.', pos);
    if (dot == std::string_view::npos) {
      dot = name.size();
    }
    const size_t len = dot - pos;
    if (len == 0 || len > 63) {
      return make_error(ErrorKind::kInvalidArgument,
                        "invalid DNS label in \"" + std::string(name) + "\"");
    }
    out += static_cast<char>(len);
    out.append(name.substr(pos, len));
    pos = dot + 1;
  }
  out += '\0';
  return out;
}

Result<Query> parse_query(std::string_view p) {
  if (p.size() < 12) {
    return malformed("shorter than a header");
  }
  Query q;
  q.id = get16(p, 0);
  const uint16_t flags = get16(p, 2);
  if (flags & 0x8000) {
    return malformed("not a query (QR set)");
  }
  if (((flags >> 11) & 0xf) != 0) {
    return make_error(ErrorKind::kUnimplemented, "only standard queries are supported");
  }
  q.recursion_desired = (flags & 0x0100) != 0;
  const uint16_t qd = get16(p, 4), an = get16(p, 6), ns = get16(p, 8), ar = get16(p, 10);
  if (qd != 1) {
    return malformed("expected exactly one question");
  }
  if (an != 0 || ns != 0) {
    return malformed("a query with answers");
  }
  size_t off = 12;
  auto name = decode_name(p, off);
  if (!name) {
    return std::move(name).error();
  }
  if (off + 4 > p.size()) {
    return malformed("truncated question");
  }
  q.name = std::move(*name);
  q.qtype = get16(p, off);
  q.qclass = get16(p, off + 2);
  q.question_wire = std::string(p.substr(12, off + 4 - 12));
  off += 4;
  // EDNS0: an OPT record in the additional section carries the UDP size.
  for (uint16_t i = 0; i < ar; ++i) {
    size_t rr = off;
    auto rname = decode_name(p, rr);
    if (!rname || rr + 10 > p.size()) {
      return malformed("truncated additional record");
    }
    const uint16_t type = get16(p, rr);
    const uint16_t klass = get16(p, rr + 2);
    const uint16_t rdlen = get16(p, rr + 8);
    if (rr + 10 + rdlen > p.size()) {
      return malformed("additional record runs past the end");
    }
    if (type == kTypeOpt) {
      q.udp_size = std::max<uint16_t>(512, std::min<uint16_t>(klass, 4096));
    }
    off = rr + 10 + rdlen;
  }
  if (off != p.size()) {
    return malformed("trailing bytes");
  }
  return q;
}

std::string build_response(const Query& q, Rcode rcode, const std::vector<Ipv4>& a,
                           const std::vector<std::array<uint8_t, 16>>& aaaa, uint32_t ttl,
                           size_t max_size) {
  auto assemble = [&](bool with_answers, bool truncated) {
    std::string out;
    put16(out, q.id);
    uint16_t flags = 0x8000 | 0x0400 | 0x0080;  // QR, AA, RA
    if (q.recursion_desired) {
      flags |= 0x0100;
    }
    if (truncated) {
      flags |= 0x0200;
    }
    flags |= static_cast<uint16_t>(rcode);
    put16(out, flags);
    put16(out, 1);
    const size_t count = with_answers ? a.size() + aaaa.size() : 0;
    put16(out, static_cast<uint16_t>(count));
    put16(out, 0);
    put16(out, 0);
    out += q.question_wire;
    if (with_answers) {
      for (const auto& ip : a) {
        put16(out, 0xc00c);  // pointer to the question name
        put16(out, kTypeA);
        put16(out, kClassIn);
        put32(out, ttl);
        put16(out, 4);
        put32(out, ip.value);
      }
      for (const auto& ip6 : aaaa) {
        put16(out, 0xc00c);
        put16(out, kTypeAaaa);
        put16(out, kClassIn);
        put32(out, ttl);
        put16(out, 16);
        out.append(reinterpret_cast<const char*>(ip6.data()), 16);
      }
    }
    return out;
  };
  std::string full = assemble(true, false);
  if (full.size() <= max_size) {
    return full;
  }
  return assemble(false, true);
}

std::string build_error(uint16_t id, Rcode rcode) {
  std::string out;
  put16(out, id);
  put16(out, static_cast<uint16_t>(0x8000 | 0x0080 | static_cast<uint16_t>(rcode)));
  put16(out, 0);
  put16(out, 0);
  put16(out, 0);
  put16(out, 0);
  return out;
}

std::string build_query(uint16_t id, std::string_view name, uint16_t qtype) {
  std::string out;
  put16(out, id);
  put16(out, 0x0100);  // RD
  put16(out, 1);
  put16(out, 0);
  put16(out, 0);
  put16(out, 0);
  out += encode_name(name).value();
  put16(out, qtype);
  put16(out, kClassIn);
  return out;
}

Result<ResponseSummary> parse_response(std::string_view p) {
  if (p.size() < 12) {
    return malformed("shorter than a header");
  }
  ResponseSummary r;
  r.id = get16(p, 0);
  const uint16_t flags = get16(p, 2);
  r.rcode = static_cast<Rcode>(flags & 0xf);
  r.truncated = (flags & 0x0200) != 0;
  const uint16_t qd = get16(p, 4), an = get16(p, 6);
  size_t off = 12;
  for (uint16_t i = 0; i < qd; ++i) {
    auto n = decode_name(p, off);
    if (!n || off + 4 > p.size()) {
      return malformed("bad question");
    }
    off += 4;
  }
  for (uint16_t i = 0; i < an; ++i) {
    auto n = decode_name(p, off);
    if (!n || off + 10 > p.size()) {
      return malformed("bad answer");
    }
    const uint16_t type = get16(p, off);
    const uint16_t rdlen = get16(p, off + 8);
    off += 10;
    if (off + rdlen > p.size()) {
      return malformed("answer runs past the end");
    }
    if (type == kTypeA && rdlen == 4) {
      r.a.push_back(Ipv4{(uint32_t{static_cast<uint8_t>(p[off])} << 24) |
                         (uint32_t{static_cast<uint8_t>(p[off + 1])} << 16) |
                         (uint32_t{static_cast<uint8_t>(p[off + 2])} << 8) |
                         static_cast<uint8_t>(p[off + 3])});
    }
    off += rdlen;
    ++r.answers;
  }
  return r;
}

}  // namespace netsetup::dns
