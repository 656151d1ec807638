#include "steps.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dind::build {
using base::ErrorKind;
using base::make_error;
using base::Result;

namespace {

const std::set<std::string> kBuiltinArgs = {"HTTP_PROXY",  "http_proxy", "HTTPS_PROXY",
                                            "https_proxy", "FTP_PROXY",  "ftp_proxy",
                                            "NO_PROXY",    "no_proxy",   "ALL_PROXY",
                                            "all_proxy"};

std::string key_of(const std::string& kv) {
  return kv.substr(0, kv.find('='));
}

void set_env(model::Config& c, const std::string& key, const std::string& value) {
  if (!c.env) {
    c.env.emplace();
  }
  for (auto& e : *c.env) {
    if (key_of(e) == key) {
      e = key + "=" + value;
      return;
    }
  }
  c.env->push_back(key + "=" + value);
}

Result<std::string> expand(const std::string& word, const StageState& s, char escape) {
  return expand_word(word, expansion_env(s), escape);
}

base::Error bad(const Instruction& /*ins*/, const std::string& why) {
  return make_error(ErrorKind::kInvalidArgument, why);
}

// RUN/CMD/ENTRYPOINT/HEALTHCHECK's command: the JSON strings, or the shell
// with the line.
model::Strings command_of(const Instruction& ins, size_t from, const model::Config& c) {
  if (ins.json) {
    return model::Strings(ins.args.begin() + static_cast<std::ptrdiff_t>(from), ins.args.end());
  }
  model::Strings cmd = shell_of(c);
  cmd.push_back(ins.args.size() > from ? ins.args[from] : std::string());
  return cmd;
}

Result<std::string> apply_healthcheck(const Instruction& ins, StageState& s) {
  if (ins.args.empty()) {
    return bad(ins, "HEALTHCHECK requires an argument");
  }
  model::HealthConfig hc;
  std::string kind = ins.args[0];
  std::transform(kind.begin(), kind.end(), kind.begin(), ::toupper);
  if (kind == "NONE") {
    if (ins.args.size() > 1 || !ins.flags.empty()) {
      return bad(ins, "HEALTHCHECK NONE takes no arguments");
    }
    hc.test = {"NONE"};
  } else if (kind == "CMD") {
    if (ins.args.size() < 2) {
      return bad(ins, "Missing command after HEALTHCHECK CMD");
    }
    if (ins.json) {
      hc.test = {"CMD"};
      hc.test.insert(hc.test.end(), ins.args.begin() + 1, ins.args.end());
    } else {
      hc.test = {"CMD-SHELL", ins.args[1]};
    }
    for (const auto& [name, value] : ins.flags) {
      if (name == "retries") {
        char* end = nullptr;
        const long long n = std::strtoll(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0') {
          return bad(ins, "invalid value for --retries: " + value);
        }
        if (n < 0) {
          return bad(ins, "--retries cannot be negative (" + value + ")");
        }
        hc.retries = n;
        continue;
      }
      int64_t* slot = name == "interval"         ? &hc.interval
                      : name == "timeout"        ? &hc.timeout
                      : name == "start-period"   ? &hc.start_period
                      : name == "start-interval" ? &hc.start_interval
                                                 : nullptr;
      if (slot == nullptr) {
        return bad(ins, "Unknown flag: " + name);
      }
      auto d = parse_go_duration(value);
      if (!d) {
        return std::move(d).error();
      }
      if (*d != 0 && *d < 1000000) {
        return bad(ins, "Interval \"" + name + "\" cannot be less than 1ms");
      }
      *slot = *d;
    }
  } else {
    return bad(ins, "Unknown type \"" + kind + "\" in HEALTHCHECK (try CMD)");
  }
  s.config.healthcheck = hc;
  // dockerd 20.10 formats its HealthConfig with %q (the history shows it).
  char retries[16];
  std::snprintf(retries, sizeof retries, "'\\x%02llx'",
                static_cast<unsigned long long>(hc.retries & 0xff));
  return "HEALTHCHECK &{" + go_quote_list(hc.test) + " " + go_quote(go_duration(hc.interval)) +
         " " + go_quote(go_duration(hc.timeout)) + " " + go_quote(go_duration(hc.start_period)) +
         " " + retries + "}";
}

Result<std::string> apply_arg(const Instruction& ins, StageState& s, char escape) {
  if (ins.args.empty()) {
    return bad(ins, "ARG requires exactly one argument");
  }
  std::string comment = "ARG";
  for (const auto& a : ins.args) {
    const auto eq = a.find('=');
    const std::string name = a.substr(0, eq);
    std::optional<std::string> def;
    if (eq != std::string::npos) {
      auto v = expand(a.substr(eq + 1), s, escape);
      if (!v) {
        return std::move(v).error();
      }
      def = *v;
    }
    std::optional<std::string> value = def;
    if (auto g = s.args.global.find(name); !def && g != s.args.global.end()) {
      value = g->second;  // a global ARG redeclared: its value (not in the comment)
    }
    if (auto given = s.args.given.find(name); given != s.args.given.end() && given->second) {
      value = given->second;
    }
    s.args.declared[name] = value;
    s.args.referenced.insert(name);
    comment += " " + name + (def ? "=" + *def : std::string());
  }
  return comment;
}

Result<std::string> apply_pairs(const Instruction& ins, StageState& s, char escape, bool env) {
  const std::string what = env ? "ENV" : "LABEL";
  if (ins.args.empty() || ins.args.size() % 2 != 0) {
    return bad(ins, what + " requires at least one argument");
  }
  std::string comment = what;
  for (size_t i = 0; i + 1 < ins.args.size(); i += 2) {
    auto k = expand(ins.args[i], s, escape);
    if (!k) {
      return std::move(k).error();
    }
    auto v = expand(ins.args[i + 1], s, escape);
    if (!v) {
      return std::move(v).error();
    }
    if (k->empty()) {
      return bad(ins, what + " names can not be blank");
    }
    if (env) {
      set_env(s.config, *k, *v);
    } else {
      s.config.labels[*k] = *v;
    }
    comment += " " + *k + "=" + *v;
  }
  return comment;
}

Result<std::vector<std::string>> expand_all(const Instruction& ins, const StageState& s,
                                            char escape) {
  std::vector<std::string> out;
  for (const auto& a : ins.args) {
    if (ins.json) {
      auto v = expand(a, s, escape);
      if (!v) {
        return std::move(v).error();
      }
      out.push_back(*v);
      continue;
    }
    auto words = expand_words(a, expansion_env(s), escape);
    if (!words) {
      return std::move(words).error();
    }
    out.insert(out.end(), words->begin(), words->end());
  }
  return out;
}

// EXPOSE's "80", "80/udp", "8000-8002" as exposed port keys.
Result<std::vector<std::string>> port_keys(const std::string& spec) {
  std::string port = spec, proto = "tcp";
  if (auto slash = spec.find('/'); slash != std::string::npos) {
    port = spec.substr(0, slash);
    proto = spec.substr(slash + 1);
  }
  std::transform(proto.begin(), proto.end(), proto.begin(), ::tolower);
  auto num = [](const std::string& t) -> long {
    char* end = nullptr;
    const long n = std::strtol(t.c_str(), &end, 10);
    return t.empty() || *end != '\0' || n < 0 || n > 65535 ? -1 : n;
  };
  const auto dash = port.find('-');
  const long lo = num(port.substr(0, dash));
  const long hi = dash == std::string::npos ? lo : num(port.substr(dash + 1));
  if (lo < 0 || hi < lo || (proto != "tcp" && proto != "udp" && proto != "sctp")) {
    return make_error(ErrorKind::kInvalidArgument, "Invalid containerPort: " + spec);
  }
  std::vector<std::string> out;
  for (long p = lo; p <= hi; ++p) {
    out.push_back(std::to_string(p) + "/" + proto);
  }
  return out;
}

}  // namespace

bool is_builtin_arg(const std::string& name) {
  return kBuiltinArgs.count(name) != 0;
}

std::optional<std::string> BuildArgs::value(const std::string& name) const {
  if (auto d = declared.find(name); d != declared.end()) {
    return d->second;
  }
  if (is_builtin_arg(name)) {
    if (auto g = given.find(name); g != given.end()) {
      return g->second;
    }
  }
  return std::nullopt;
}

std::vector<std::string> BuildArgs::allowed(const model::OptStrings& env) const {
  std::set<std::string> env_keys;
  for (const auto& e : env.value_or(model::Strings{})) {
    env_keys.insert(key_of(e));
  }
  std::set<std::string> names;
  for (const auto& [k, v] : declared) {
    names.insert(k);
  }
  for (const auto& [k, v] : given) {
    if (is_builtin_arg(k)) {
      names.insert(k);
    }
  }
  std::vector<std::string> out;
  for (const auto& n : names) {
    auto v = value(n);
    if (v && !env_keys.count(n)) {
      out.push_back(n + "=" + *v);
    }
  }
  return out;
}

std::vector<std::string> BuildArgs::recorded(const model::OptStrings& env) const {
  std::vector<std::string> out;
  for (const auto& kv : allowed(env)) {
    const std::string k = key_of(kv);
    if (!is_builtin_arg(k) || referenced.count(k)) {
      out.push_back(kv);
    }
  }
  return out;
}

Lookup expansion_env(const StageState& s) {
  return [&s](std::string_view name) -> std::optional<std::string> {
    for (const auto& e : s.config.env.value_or(model::Strings{})) {
      if (key_of(e) == name) {
        return e.substr(e.find('=') == std::string::npos ? e.size() : e.find('=') + 1);
      }
    }
    return s.args.value(std::string(name));
  };
}

model::Strings shell_of(const model::Config& c) {
  if (c.shell && !c.shell->empty()) {
    return *c.shell;
  }
  return {"/bin/sh", "-c"};
}

Result<std::string> apply_metadata(const Instruction& ins, StageState& s, char escape,
                                   std::string& maintainer) {
  const std::string& cmd = ins.command;
  if (cmd == "env" || cmd == "label") {
    return apply_pairs(ins, s, escape, cmd == "env");
  }
  if (cmd == "arg") {
    return apply_arg(ins, s, escape);
  }
  if (cmd == "healthcheck") {
    return apply_healthcheck(ins, s);
  }
  if (cmd == "maintainer") {
    maintainer = ins.args.empty() ? "" : ins.args[0];
    return "MAINTAINER " + maintainer;
  }
  if (cmd == "user" || cmd == "stopsignal" || cmd == "workdir") {
    if (ins.args.empty() || ins.args[0].empty()) {
      return bad(ins, cmd == "user" ? "USER requires exactly one argument"
                      : cmd == "workdir" ? "WORKDIR requires exactly one argument"
                                         : "STOPSIGNAL requires exactly one argument");
    }
    auto v = expand(ins.args[0], s, escape);
    if (!v) {
      return std::move(v).error();
    }
    if (cmd == "user") {
      s.config.user = *v;
      return "USER " + *v;
    }
    if (cmd == "stopsignal") {
      s.config.stop_signal = *v;
      return "STOPSIGNAL " + *v;
    }
    s.config.working_dir = join_workdir(s.config.working_dir, *v);
    return "WORKDIR " + s.config.working_dir;
  }
  if (cmd == "expose" || cmd == "volume") {
    auto words = expand_all(ins, s, escape);
    if (!words) {
      return std::move(words).error();
    }
    if (words->empty()) {
      return bad(ins, cmd == "expose" ? "EXPOSE requires at least one argument"
                                      : "VOLUME requires at least one argument");
    }
    if (cmd == "expose") {
      std::string comment = "EXPOSE";
      for (const auto& w : *words) {
        auto keys = port_keys(w);
        if (!keys) {
          return std::move(keys).error();
        }
        s.config.exposed_ports.insert(keys->begin(), keys->end());
        comment += " " + w;
      }
      return comment;
    }
    std::string list;
    for (const auto& w : *words) {
      if (w.empty()) {
        return bad(ins, "VOLUME specified can not be an empty string");
      }
      s.config.volumes.insert(w);
      list += (list.empty() ? "" : " ") + w;
    }
    return "VOLUME [" + list + "]";
  }
  if (cmd == "cmd") {
    s.config.cmd = command_of(ins, 0, s.config);
    s.cmd_set = true;
    return "CMD " + go_quote_list(*s.config.cmd);
  }
  if (cmd == "entrypoint") {
    if (!ins.json && (ins.args.empty() || ins.args[0].empty())) {
      s.config.entrypoint = model::Strings{};  // ENTRYPOINT "": none
    } else {
      s.config.entrypoint = command_of(ins, 0, s.config);
    }
    if (!s.cmd_set) {
      s.config.cmd.reset();
    }
    return "ENTRYPOINT " + go_quote_list(*s.config.entrypoint);
  }
  if (cmd == "shell") {
    if (!ins.json || ins.args.empty()) {
      return bad(ins, "SHELL requires the arguments to be in JSON form");
    }
    s.config.shell = ins.args;
    std::string list;  // dockerd formats it with %v: [/bin/sh -c]
    for (const auto& a : ins.args) {
      list += (list.empty() ? "" : " ") + a;
    }
    return "SHELL [" + list + "]";
  }
  if (cmd == "onbuild") {
    if (ins.args.empty()) {
      return bad(ins, "ONBUILD requires at least one argument");
    }
    if (!s.config.on_build) {
      s.config.on_build.emplace();
    }
    s.config.on_build->push_back(ins.args[0]);
    return "ONBUILD " + ins.args[0];
  }
  return make_error(ErrorKind::kInternal, "not a metadata instruction: " + cmd);
}

std::string go_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\v': out += "\\v"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);  // UTF-8 passes as Go keeps printable runes
        }
    }
  }
  return out + "\"";
}

std::string go_quote_list(const model::Strings& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    out += (i ? " " : "") + go_quote(v[i]);
  }
  return out + "]";
}

namespace {

// Go's fmtFrac/fmtInt: value with `prec` fractional digits, trailing zeros dropped.
}  // namespace

std::string join_words(const model::Strings& words) {
  std::string out;
  for (const auto& w : words) {
    out += (out.empty() ? "" : " ") + w;
  }
  return out;
}

model::Config nop_probe(const StageState& s, const std::string& comment, bool two_words) {
  model::Config probe = s.config;
  probe.cmd = shell_of(s.config);
  if (two_words) {
    probe.cmd->push_back("#(nop) ");
    probe.cmd->push_back(comment);
  } else {
    probe.cmd->push_back("#(nop) " + comment);
  }
  probe.image = s.image_id;
  return probe;
}

std::string join_workdir(const std::string& current, const std::string& next) {
  std::string path = next.empty() || next[0] == '/' ? next : (current.empty() ? "/" : current) + "/" + next;
  // Clean: drop empty and "." components, resolve "..".
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    const size_t j = std::min(path.find('/', i), path.size());
    const std::string c = path.substr(i, j - i);
    if (c == "..") {
      if (!parts.empty()) {
        parts.pop_back();
      }
    } else if (!c.empty() && c != ".") {
      parts.push_back(c);
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& p : parts) {
    out += "/" + p;
  }
  return out.empty() ? "/" : out;
}

}  // namespace dind::build
