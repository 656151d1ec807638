#include "dind/registry/auth.hpp"

#include <nlohmann/json.hpp>

#include "dind/base/sha256.hpp"
#include "dind/base/text.hpp"

namespace dind::registry {
using base::ErrorKind;
using base::make_error;
using base::Result;
using nlohmann::json;

namespace {

std::string string_member(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

AuthConfig auth_from_json(const json& j) {
  AuthConfig a;
  a.username = string_member(j, "username");
  a.password = string_member(j, "password");
  a.identity_token = string_member(j, "identitytoken");
  a.registry_token = string_member(j, "registrytoken");
  a.server_address = string_member(j, "serveraddress");
  // Older clients send "auth": base64("user:password").
  if (a.username.empty() && a.password.empty()) {
    if (auto raw = base::base64_decode(string_member(j, "auth")); raw) {
      const auto colon = raw->find(':');
      if (colon != std::string::npos) {
        a.username = raw->substr(0, colon);
        a.password = raw->substr(colon + 1);
      }
    }
  }
  return a;
}

}  // namespace

AuthConfig decode_registry_auth(std::string_view header) {
  auto raw = base::base64_decode(base::trim(header));
  if (!raw) {
    return {};
  }
  auto j = json::parse(*raw, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return {};
  }
  return auth_from_json(j);
}

Result<AuthConfig> parse_auth_body(std::string_view body) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorKind::kInvalidArgument, "the body must be a JSON object");
  }
  return auth_from_json(j);
}

std::vector<Challenge> parse_challenges(const std::vector<std::string>& values) {
  std::vector<Challenge> out;
  for (const auto& value : values) {
    std::string_view s = value;
    size_t i = 0;
    auto skip_space = [&] {
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
        ++i;
      }
    };
    auto token = [&] {
      const size_t b = i;
      while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '=' && s[i] != ',') {
        ++i;
      }
      return std::string(s.substr(b, i - b));
    };
    while (i < s.size()) {
      skip_space();
      while (i < s.size() && s[i] == ',') {
        ++i;
        skip_space();
      }
      if (i >= s.size()) {
        break;
      }
      Challenge ch;
      ch.scheme = base::ascii_lower(token());
      if (ch.scheme.empty()) {
        ++i;
        continue;
      }
      // auth-params: key=value or key="quoted", comma separated, until the
      // next token that is not followed by '=' (the next challenge).
      for (;;) {
        skip_space();
        const size_t mark = i;
        std::string key = base::ascii_lower(token());
        skip_space();
        if (key.empty() || i >= s.size() || s[i] != '=') {
          i = mark;
          break;
        }
        ++i;
        skip_space();
        std::string val;
        if (i < s.size() && s[i] == '"') {
          ++i;
          while (i < s.size() && s[i] != '"') {
            if (s[i] == '\\' && i + 1 < s.size()) {
              ++i;
            }
            val += s[i++];
          }
          if (i < s.size()) {
            ++i;  // closing quote; an unterminated string ends with the value
          }
        } else {
          val = token();
        }
        ch.params[key] = val;
        skip_space();
        if (i < s.size() && s[i] == ',') {
          ++i;
        }
      }
      out.push_back(std::move(ch));
    }
  }
  return out;
}

std::string repository_scope(std::string_view repo, bool push) {
  return "repository:" + std::string(repo) + (push ? ":pull,push" : ":pull");
}

Result<Token> parse_token_response(std::string_view body,
                                   std::chrono::steady_clock::time_point now) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorKind::kInvalidArgument, "the token server answered no JSON object");
  }
  Token t;
  t.token = string_member(j, "token");
  if (t.token.empty()) {
    t.token = string_member(j, "access_token");
  }
  if (t.token.empty()) {
    return make_error(ErrorKind::kInvalidArgument, "the token server answered no token");
  }
  t.refresh_token = string_member(j, "refresh_token");
  int64_t expires_in = 60;
  if (auto it = j.find("expires_in");
      it != j.end() && it->is_number_integer() && it->get<int64_t>() > 0) {
    expires_in = std::min<int64_t>(it->get<int64_t>(), 24 * 3600);
  }
  t.expires = now + std::chrono::seconds(expires_in);
  return t;
}

std::string registry_error_text(std::string_view body) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("errors") || !j["errors"].is_array()) {
    return "";
  }
  std::string out;
  for (const auto& e : j["errors"]) {
    if (!e.is_object()) {
      continue;
    }
    std::string code = base::ascii_lower(string_member(e, "code"));
    for (auto& c : code) {
      if (c == '_') {
        c = ' ';
      }
    }
    const std::string msg = string_member(e, "message");
    if (code.empty() && msg.empty()) {
      continue;
    }
    if (!out.empty()) {
      out += "; ";
    }
    out += code.empty() ? msg : msg.empty() ? code : code + ": " + msg;
  }
  return out;
}

Result<Token> Authenticator::fetch_token(const Challenge& bearer,
                                         const std::vector<std::string>& scopes,
                                         const AuthConfig& auth, const TlsTrust& trust,
                                         bool offline) {
  auto realm_it = bearer.params.find("realm");
  if (realm_it == bearer.params.end()) {
    return make_error(ErrorKind::kInvalidArgument, "the bearer challenge names no realm");
  }
  auto realm = parse_url(realm_it->second);
  if (!realm) {
    return make_error(ErrorKind::kInvalidArgument,
                      "the bearer challenge's realm is not a URL: " + realm_it->second);
  }
  std::string service;
  if (auto it = bearer.params.find("service"); it != bearer.params.end()) {
    service = it->second;
  }
  HttpRequest req;
  req.url = *realm;
  const bool refresh = !auth.identity_token.empty();
  if (refresh) {
    // OAuth2 refresh-token grant, as dockerd does with an identity token.
    req.method = "POST";
    req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    req.body = "grant_type=refresh_token&refresh_token=" + url_escape(auth.identity_token) +
               "&service=" + url_escape(service) + "&client_id=docker";
    for (const auto& s : scopes) {
      req.body += "&scope=" + url_escape(s);
    }
  } else {
    std::string q;
    auto add = [&](std::string_view k, std::string_view v) {
      q += (q.empty() ? "" : "&") + std::string(k) + "=" + url_escape(v);
    };
    if (!service.empty()) {
      add("service", service);
    }
    for (const auto& s : scopes) {
      add("scope", s);
    }
    if (!auth.username.empty()) {
      add("account", auth.username);
      req.headers.emplace_back("Authorization",
                               "Basic " + base::base64_encode(auth.username + ":" + auth.password));
    }
    if (offline) {
      add("offline_token", "true");
      add("client_id", "docker");
    }
    if (!q.empty()) {
      req.url.target += (req.url.target.find('?') == std::string::npos ? "?" : "&") + q;
    }
  }
  auto resp = http_.send(req, trust);
  if (!resp) {
    return std::move(resp).error().with_context("fetching a token");
  }
  auto body = (*resp)->read_all(1 << 20);
  if (!body) {
    return std::move(body).error().with_context("fetching a token");
  }
  const int status = (*resp)->status();
  if (status == 401 || status == 403) {
    std::string why = registry_error_text(*body);
    return make_error(ErrorKind::kPermissionDenied,
                      why.empty() ? "unauthorized: incorrect username or password" : why);
  }
  if (status != 200) {
    return make_error(ErrorKind::kUnavailable, "the token server " + realm->origin() +
                                                   " answered " + std::to_string(status));
  }
  return parse_token_response(*body, std::chrono::steady_clock::now());
}

Result<std::string> Authenticator::authorize(const std::vector<Challenge>& challenges,
                                             const std::vector<std::string>& scopes,
                                             const AuthConfig& auth, const TlsTrust& trust,
                                             bool offline, std::string* refresh_out) {
  const Challenge* bearer = nullptr;
  const Challenge* basic = nullptr;
  for (const auto& c : challenges) {
    if (c.scheme == "bearer" && !bearer) {
      bearer = &c;
    } else if (c.scheme == "basic" && !basic) {
      basic = &c;
    }
  }
  if (bearer) {
    if (!auth.registry_token.empty()) {
      return "Bearer " + auth.registry_token;
    }
    std::string key;
    for (const auto& [k, v] : bearer->params) {
      key += k + "=" + v + ";";
    }
    for (const auto& s : scopes) {
      key += s + ";";
    }
    key += base::sha256_digest(auth.username + '\0' + auth.password + '\0' + auth.identity_token);
    const auto now = std::chrono::steady_clock::now();
    if (!offline) {
      std::lock_guard lock(mu_);
      if (auto it = cache_.find(key);
          it != cache_.end() && it->second.expires - std::chrono::seconds(5) > now) {
        return "Bearer " + it->second.token;
      }
    }
    auto token = fetch_token(*bearer, scopes, auth, trust, offline);
    if (!token) {
      return std::move(token).error();
    }
    if (refresh_out) {
      *refresh_out = token->refresh_token;
    }
    std::lock_guard lock(mu_);
    cache_[key] = *token;
    return "Bearer " + token->token;
  }
  if (basic) {
    if (auth.username.empty() && auth.password.empty()) {
      return make_error(ErrorKind::kPermissionDenied, "no basic auth credentials");
    }
    return "Basic " + base::base64_encode(auth.username + ":" + auth.password);
  }
  return make_error(ErrorKind::kPermissionDenied,
                    "unauthorized: the registry asks for an authentication scheme other than "
                    "basic or bearer");
}

void Authenticator::forget(const std::string& authorization) {
  std::lock_guard lock(mu_);
  for (auto it = cache_.begin(); it != cache_.end();) {
    if ("Bearer " + it->second.token == authorization) {
      it = cache_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace dind::registry
