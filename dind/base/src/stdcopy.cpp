#include "dind/base/stdcopy.hpp"

#include <algorithm>

namespace dind::base {

void stdcopy_append(std::string& out, StdStream stream, std::string_view payload) {
  out.reserve(out.size() + payload.size() + 8);
  do {
    const size_t n = std::min<size_t>(payload.size(), 0xffffffffu);
    const char header[8] = {static_cast<char>(stream),
                            0,
                            0,
                            0,
                            static_cast<char>((n >> 24) & 0xff),
                            static_cast<char>((n >> 16) & 0xff),
                            static_cast<char>((n >> 8) & 0xff),
                            static_cast<char>(n & 0xff)};
    out.append(header, 8);
    out.append(payload.substr(0, n));
    payload.remove_prefix(n);
  } while (!payload.empty());
}

std::string stdcopy_frame(StdStream stream, std::string_view payload) {
  std::string out;
  stdcopy_append(out, stream, payload);
  return out;
}

bool StdcopyDecoder::feed(std::string_view bytes, std::vector<Frame>& out) {
  if (broken_) {
    return false;
  }
  buf_.append(bytes);
  size_t pos = 0;
  while (buf_.size() - pos >= 8) {
    const auto* h = reinterpret_cast<const unsigned char*>(buf_.data() + pos);
    if (h[0] > 3 || h[1] || h[2] || h[3]) {
      broken_ = true;
      return false;
    }
    const size_t n = (size_t{h[4]} << 24) | (size_t{h[5]} << 16) | (size_t{h[6]} << 8) | h[7];
    if (buf_.size() - pos - 8 < n) {
      break;
    }
    out.push_back(Frame{static_cast<StdStream>(h[0]), buf_.substr(pos + 8, n)});
    pos += 8 + n;
  }
  buf_.erase(0, pos);
  return true;
}

}  // namespace dind::base
