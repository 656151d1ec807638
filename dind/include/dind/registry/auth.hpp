#pragma once
// Registry authentication: the credentials clients send (X-Registry-Auth,
// POST /auth), the WWW-Authenticate challenges registries answer with, and
// the bearer-token dance of the distribution token spec (GET realm with basic
// credentials, or POST realm with a refresh token). Parsing is pure; token
// requests go through HttpClient. Credentials never appear in an error.

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dind/base/result.hpp"
#include "dind/registry/http_client.hpp"

namespace dind::registry {

struct AuthConfig {
  std::string username;
  std::string password;
  std::string identity_token;  // a refresh token from an earlier login
  std::string registry_token;  // a bearer token to use as is
  std::string server_address;
  bool empty() const {
    return username.empty() && password.empty() && identity_token.empty() && registry_token.empty();
  }
};

// X-Registry-Auth: base64url JSON ({"username","password","identitytoken",
// "registrytoken","serveraddress"}). Like dockerd, anything undecodable is
// no credentials at all.
AuthConfig decode_registry_auth(std::string_view header);
// POST /auth's JSON body; kInvalidArgument when it is not an object.
base::Result<AuthConfig> parse_auth_body(std::string_view body);

struct Challenge {
  std::string scheme;                         // lower case: "basic", "bearer"
  std::map<std::string, std::string> params;  // keys lower case
};
// All challenges of the WWW-Authenticate values (RFC 7235 auth-params,
// quoted strings with escapes). Malformed parts are skipped.
std::vector<Challenge> parse_challenges(const std::vector<std::string>& values);

// "repository:<name>:pull" / ":pull,push".
std::string repository_scope(std::string_view repo, bool push);

struct Token {
  std::string token;
  std::string refresh_token;  // given when offline_token was asked
  std::chrono::steady_clock::time_point expires;
};
// The JSON answer of a token endpoint (token or access_token, expires_in
// default 60 s); kInvalidArgument without a token.
base::Result<Token> parse_token_response(std::string_view body,
                                         std::chrono::steady_clock::time_point now);

// Turns challenges into Authorization headers, caching bearer tokens per
// (realm, service, scope, credentials) until shortly before they expire.
// Thread-safe.
class Authenticator {
 public:
  explicit Authenticator(HttpClient& http) : http_(http) {}
  // The Authorization header value for a request to a registry that
  // answered with `challenges`; kPermissionDenied with the registry's words
  // when credentials are missing or refused. `offline` asks the token server
  // for a refresh token (login), handed back in `refresh_out`.
  base::Result<std::string> authorize(const std::vector<Challenge>& challenges,
                                      const std::vector<std::string>& scopes,
                                      const AuthConfig& auth, const TlsTrust& trust,
                                      bool offline = false, std::string* refresh_out = nullptr);
  // Forgets a cached token the registry refused.
  void forget(const std::string& authorization);

 private:
  base::Result<Token> fetch_token(const Challenge& bearer, const std::vector<std::string>& scopes,
                                  const AuthConfig& auth, const TlsTrust& trust, bool offline);
  HttpClient& http_;
  std::mutex mu_;
  std::map<std::string, Token> cache_;
};

// The message of a registry error body ({"errors":[{"code","message"}]}):
// "manifest unknown: manifest unknown"-style text as dockerd prints it, or
// empty.
std::string registry_error_text(std::string_view body);

}  // namespace dind::registry
