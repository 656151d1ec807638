#include "dind/runtime/shim_protocol.hpp"

#include <algorithm>
#include <charconv>

namespace dind::runtime::shim_protocol {

using base::ErrorKind;
using base::make_error;

namespace {

base::Error malformed(std::string_view what, std::string_view text) {
  std::string shown(text.substr(0, 64));
  for (char& ch : shown) {
    if (static_cast<unsigned char>(ch) < 0x20) {
      ch = '?';
    }
  }
  return make_error(ErrorKind::kInvalidArgument, std::string("malformed shim ") + std::string(what) + ": \"" +
                                                     shown + "\"");
}

std::optional<int> positive(std::string_view s) {
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v <= 0) {
    return std::nullopt;
  }
  return v;
}

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

}  // namespace

std::string encode(const Report& r) {
  return std::visit(overloaded{[](const Created& c) {
                                 return "P " + std::to_string(c.init_pid) + " " + std::to_string(c.shim_pid);
                               },
                               [](const Failed& f) { return "E " + f.reason; },
                               [](const Started&) { return std::string("R"); }},
                    r);
}

base::Result<Report> decode_report(std::string_view p) {
  if (p == "R") {
    return Report{Started{}};
  }
  if (p.substr(0, 2) == "E ") {
    return Report{Failed{std::string(p.substr(2))}};
  }
  if (p.substr(0, 2) == "P ") {
    const std::string_view rest = p.substr(2);
    const size_t sp = rest.find(' ');
    if (sp != std::string_view::npos) {
      auto init = positive(rest.substr(0, sp));
      auto shim = positive(rest.substr(sp + 1));
      if (init && shim) {
        return Report{Created{*init, *shim}};
      }
    }
  }
  return malformed("report", p);
}

std::string encode(Order o) {
  return o == Order::kStart ? "S" : "A";
}

std::optional<Order> decode_order(std::string_view p) {
  if (p == "S") {
    return Order::kStart;
  }
  if (p == "A") {
    return Order::kAbort;
  }
  return std::nullopt;
}

bool valid_exec_id(std::string_view id) {
  return id.size() == 64 && std::all_of(id.begin(), id.end(), [](char ch) {
           return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
         });
}

std::string encode(const Command& c) {
  return std::visit(
      overloaded{[](const Attach& a) { return std::string{'a', static_cast<char>(a.flags)}; },
                 [](const Resize& r) {
                   std::string m = {'r',
                                    static_cast<char>((r.rows >> 8) & 0xff),
                                    static_cast<char>(r.rows & 0xff),
                                    static_cast<char>((r.cols >> 8) & 0xff),
                                    static_cast<char>(r.cols & 0xff),
                                    static_cast<char>(r.exec_id.size())};
                   return m + r.exec_id;
                 },
                 [](const Exec& e) {
                   return std::string{'x', static_cast<char>(e.attach_flags), static_cast<char>(e.exec_flags)} +
                          e.exec_id;
                 }},
      c);
}

base::Result<std::optional<Decoded>> decode_command(std::string_view b) {
  auto byte = [&b](size_t i) { return static_cast<uint8_t>(b[i]); };
  if (b.empty()) {
    return std::optional<Decoded>();
  }
  switch (b[0]) {
    case 'a':
      if (b.size() < 2) {
        return std::optional<Decoded>();
      }
      return std::optional<Decoded>(Decoded{Attach{byte(1)}, 2});
    case 'r': {
      if (b.size() < 6 || b.size() < 6u + byte(5)) {
        return std::optional<Decoded>();
      }
      Resize r{(byte(1) << 8) | byte(2), (byte(3) << 8) | byte(4), std::string(b.substr(6, byte(5)))};
      if (!r.exec_id.empty() && !valid_exec_id(r.exec_id)) {
        return malformed("resize", b.substr(6, byte(5)));
      }
      return std::optional<Decoded>(Decoded{std::move(r), 6u + byte(5)});
    }
    case 'x': {
      if (b.size() < 67) {
        return std::optional<Decoded>();
      }
      Exec e{byte(1), byte(2), std::string(b.substr(3, 64))};
      if (!valid_exec_id(e.exec_id)) {
        return malformed("exec ID", e.exec_id);
      }
      return std::optional<Decoded>(Decoded{std::move(e), 67});
    }
    default:
      return malformed("command", b.substr(0, 1));
  }
}

std::string exec_started(int pid) {
  return "K" + std::to_string(pid) + "\n";
}

std::string exec_refused(std::string_view message) {
  std::string m(message);
  std::replace(m.begin(), m.end(), '\n', ' ');
  return "E" + m + "\n";
}

base::Result<int> decode_exec_answer(std::string_view line) {
  if (!line.empty() && line.back() == '\n') {
    line.remove_suffix(1);
  }
  if (!line.empty() && line[0] == 'K') {
    if (auto pid = positive(line.substr(1))) {
      return *pid;
    }
  } else if (!line.empty() && line[0] == 'E') {
    return make_error(ErrorKind::kInternal, std::string(line.substr(1)));
  }
  return malformed("exec answer", line);
}

}  // namespace dind::runtime::shim_protocol
