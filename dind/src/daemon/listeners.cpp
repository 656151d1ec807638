#include "dind/daemon/listeners.hpp"

namespace dind::daemon {
using base::ErrorKind;
using base::make_error;
using base::Result;
using engine::DaemonConfig;
using engine::HostSpec;
using engine::parse_host;

Result<std::vector<api::Listener>> plan_listeners(const DaemonConfig& c,
                                                  std::vector<std::string>& warnings) {
  const bool verify = c.tlsverify.value_or(false);
  const bool tls = verify || c.tls.value_or(false);
  const bool explicit_plain = c.tls.has_value() && !*c.tls && !verify;
  std::vector<api::Listener> out;
  for (const auto& text : c.hosts) {
    auto h = parse_host(text, tls);
    if (!h) {
      return std::move(h).error();
    }
    api::Listener l;
    if (h->kind == HostSpec::Kind::kUnix) {
      l.kind = api::Listener::Kind::kUnix;
      l.path = h->path;
      out.push_back(l);
      continue;
    }
    l.kind = api::Listener::Kind::kTcp;
    l.host = h->host;
    l.port = h->port;
    if (verify) {
      std::vector<std::string> missing;
      if (c.tlscacert.empty())
        missing.push_back("--tlscacert");
      if (c.tlscert.empty())
        missing.push_back("--tlscert");
      if (c.tlskey.empty())
        missing.push_back("--tlskey");
      if (!missing.empty()) {
        std::string list;
        for (auto& m : missing)
          list += (list.empty() ? "" : ", ") + m;
        return make_error(ErrorKind::kInvalidArgument, "--tlsverify needs " + list);
      }
      l.tls = api::TlsFiles{c.tlscacert, c.tlscert, c.tlskey};
    } else if (explicit_plain) {
      l.insecure = true;
      warnings.push_back("API is accessible on " + h->to_string() +
                         " without encryption and without authentication: anyone who can reach "
                         "it is root on this machine (you passed --tls=false)");
    } else if (tls) {
      return make_error(ErrorKind::kInvalidArgument,
                        "refusing to serve " + h->to_string() +
                            " with TLS but without client verification: add --tlsverify "
                            "(with --tlscacert, --tlscert, --tlskey)");
    } else {
      return make_error(ErrorKind::kInvalidArgument,
                        "refusing to serve " + h->to_string() +
                            " without TLS: pass --tlsverify with --tlscacert, --tlscert and "
                            "--tlskey, or --tls=false to accept unauthenticated connections "
                            "explicitly");
    }
    out.push_back(l);
  }
  return out;
}

}  // namespace dind::daemon
