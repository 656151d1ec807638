#include "netsetup/dns_server.hpp"

// clang-format off
#include <utility>  // first: boost 1.74 asio uses std::exchange without including it
#include <boost/asio.hpp>
// clang-format on
#include <random>

#include "dind/base/log.hpp"

namespace netsetup {
namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using dind::base::ErrorKind;
using dind::base::make_error;

namespace {
constexpr size_t kMaxMessage = 65535;
constexpr int kMaxInFlight = 1024;  // forwarded queries at once (as Docker)
}  // namespace

struct DnsServer::Impl : std::enable_shared_from_this<DnsServer::Impl> {
  asio::io_context& ioc;
  DnsServerOptions options;
  dns::Records records;
  std::map<uint32_t, std::vector<std::string>> endpoint_networks;
  std::vector<std::shared_ptr<udp::socket>> udp_sockets;
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  std::mt19937 rng{std::random_device{}()};
  uint64_t answered = 0;
  uint64_t forwarded = 0;
  int in_flight = 0;
  bool stopped = false;

  Impl(asio::io_context& io, DnsServerOptions o) : ioc(io), options(std::move(o)) {}

  std::vector<std::string> networks_of(const asio::ip::address& src) const {
    if (!src.is_v4()) {
      return {};
    }
    auto it = endpoint_networks.find(src.to_v4().to_uint());
    return it == endpoint_networks.end() ? std::vector<std::string>{} : it->second;
  }

  // Resolves `query`, calling done(response) once; an empty response means
  // "send nothing".
  void resolve(std::string query, const asio::ip::address& src,
               std::function<void(std::string)> done) {
    auto d = dns::decide(records, networks_of(src), query, rng);
    if (d.kind == dns::Decision::Kind::kAnswer) {
      ++answered;
      done(std::move(d.response));
      return;
    }
    if (d.kind == dns::Decision::Kind::kDrop) {
      done({});
      return;
    }
    auto id = dns::header_id(query);
    if (options.upstreams.empty() || in_flight >= kMaxInFlight) {
      done(dns::build_error(id.value_or(0), dns::Rcode::kServFail));
      return;
    }
    ++forwarded;
    ++in_flight;
    forward(std::make_shared<std::string>(std::move(query)), 0,
            [self = shared_from_this(), done = std::move(done), id](std::string reply) {
              --self->in_flight;
              done(reply.empty() ? dns::build_error(id.value_or(0), dns::Rcode::kServFail)
                                 : std::move(reply));
            });
  }

  // Tries upstream `index`, then the next one on timeout or error.
  void forward(std::shared_ptr<std::string> query, size_t index,
               std::function<void(std::string)> done) {
    if (index >= options.upstreams.size()) {
      done({});
      return;
    }
    boost::system::error_code ec;
    auto addr = asio::ip::make_address_v4(options.upstreams[index], ec);
    if (ec) {
      forward(query, index + 1, std::move(done));
      return;
    }
    auto sock = std::make_shared<udp::socket>(ioc);
    sock->open(udp::v4(), ec);
    auto timer = std::make_shared<asio::steady_timer>(ioc, options.upstream_timeout);
    auto buf = std::make_shared<std::string>(kMaxMessage, '\0');
    auto finished = std::make_shared<bool>(false);
    auto self = shared_from_this();
    auto next = [self, query, index, done, sock, timer, finished](bool ok,
                                                                  std::string reply) mutable {
      if (*finished) {
        return;
      }
      *finished = true;
      timer->cancel();
      boost::system::error_code ignored;
      sock->close(ignored);
      if (ok) {
        done(std::move(reply));
      } else {
        self->forward(query, index + 1, std::move(done));
      }
    };
    timer->async_wait([next](boost::system::error_code e) mutable {
      if (!e) {
        next(false, {});
      }
    });
    udp::endpoint up(addr, 53);
    sock->async_send_to(asio::buffer(*query), up,
                        [sock, buf, query, next](boost::system::error_code e, size_t) mutable {
                          if (e) {
                            next(false, {});
                            return;
                          }
                          sock->async_receive(
                              asio::buffer(*buf),
                              [buf, query, next](boost::system::error_code e2, size_t n) mutable {
                                // The reply must answer our query (same ID).
                                if (e2 || n < 12 || buf->compare(0, 2, *query, 0, 2) != 0) {
                                  next(false, {});
                                  return;
                                }
                                next(true, buf->substr(0, n));
                              });
                        });
  }

  void udp_loop(std::shared_ptr<udp::socket> sock) {
    auto buf = std::make_shared<std::string>(kMaxMessage, '\0');
    auto from = std::make_shared<udp::endpoint>();
    sock->async_receive_from(
        asio::buffer(*buf), *from,
        [self = shared_from_this(), sock, buf, from](boost::system::error_code ec, size_t n) {
          if (ec == asio::error::operation_aborted || self->stopped) {
            return;
          }
          if (!ec) {
            self->resolve(buf->substr(0, n), from->address(), [sock, from](std::string reply) {
              if (!reply.empty()) {
                auto out = std::make_shared<std::string>(std::move(reply));
                sock->async_send_to(asio::buffer(*out), *from,
                                    [out](boost::system::error_code, size_t) {});
              }
            });
          }
          self->udp_loop(sock);
        });
  }

  // TCP: 2-byte length prefix; one connection may carry several queries.
  void tcp_session(std::shared_ptr<tcp::socket> s) {
    auto len = std::make_shared<std::array<uint8_t, 2>>();
    auto timer = std::make_shared<asio::steady_timer>(ioc, std::chrono::seconds(10));
    timer->async_wait([s](boost::system::error_code e) {
      if (!e) {
        boost::system::error_code ignored;
        s->close(ignored);
      }
    });
    asio::async_read(
        *s, asio::buffer(*len),
        [self = shared_from_this(), s, len, timer](boost::system::error_code ec, size_t) {
          if (ec) {
            timer->cancel();
            return;
          }
          const size_t n = (size_t{(*len)[0]} << 8) | (*len)[1];
          auto msg = std::make_shared<std::string>(n, '\0');
          asio::async_read(
              *s, asio::buffer(*msg), [self, s, msg, timer](boost::system::error_code e2, size_t) {
                timer->cancel();
                if (e2) {
                  return;
                }
                boost::system::error_code ignored;
                auto src = s->remote_endpoint(ignored).address();
                self->resolve(*msg, src, [self, s](std::string reply) {
                  if (reply.empty()) {
                    boost::system::error_code e3;
                    s->close(e3);
                    return;
                  }
                  auto out = std::make_shared<std::string>();
                  out->push_back(static_cast<char>(reply.size() >> 8));
                  out->push_back(static_cast<char>(reply.size() & 0xff));
                  *out += reply;
                  asio::async_write(*s, asio::buffer(*out),
                                    [self, s, out](boost::system::error_code e4, size_t) {
                                      if (!e4) {
                                        self->tcp_session(s);
                                      }
                                    });
                });
              });
        });
  }

  void accept_loop(std::shared_ptr<tcp::acceptor> a) {
    a->async_accept([self = shared_from_this(), a](boost::system::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || self->stopped) {
        return;
      }
      if (!ec) {
        self->tcp_session(std::make_shared<tcp::socket>(std::move(s)));
      }
      self->accept_loop(a);
    });
  }
};

DnsServer::DnsServer(asio::io_context& ioc, DnsServerOptions options)
    : impl_(std::make_shared<Impl>(ioc, std::move(options))) {}

DnsServer::~DnsServer() {
  stop();
}

dind::base::Status DnsServer::listen(Ipv4 address) {
  try {
    auto addr = asio::ip::address_v4(address.value);
    auto u = std::make_shared<udp::socket>(impl_->ioc, udp::endpoint(addr, impl_->options.port));
    auto a = std::make_shared<tcp::acceptor>(impl_->ioc);
    tcp::endpoint ep(addr, impl_->options.port);
    a->open(ep.protocol());
    a->set_option(asio::socket_base::reuse_address(true));
    a->bind(ep);
    a->listen();
    impl_->udp_sockets.push_back(u);
    impl_->acceptors.push_back(a);
    impl_->udp_loop(u);
    impl_->accept_loop(a);
  } catch (const boost::system::system_error& e) {
    return make_error(dind::base::kind_from_errno(e.code().value()),
                      "DNS listen on " + address.to_string() + ":" +
                          std::to_string(impl_->options.port) + ": " + e.code().message());
  }
  DIND_LOG(kInfo) << "DNS listening on " << address.to_string() << ":" << impl_->options.port;
  return {};
}

void DnsServer::unlisten(Ipv4 address) {
  const auto addr = asio::ip::address_v4(address.value);
  boost::system::error_code ec;
  std::erase_if(impl_->udp_sockets, [&](const std::shared_ptr<udp::socket>& s) {
    auto ep = s->local_endpoint(ec);
    if (ec || ep.address() != addr) {
      return false;
    }
    s->close(ec);
    return true;
  });
  std::erase_if(impl_->acceptors, [&](const std::shared_ptr<tcp::acceptor>& a) {
    auto ep = a->local_endpoint(ec);
    if (ec || ep.address() != addr) {
      return false;
    }
    a->close(ec);
    return true;
  });
  DIND_LOG(kInfo) << "DNS no longer listening on " << address.to_string();
}

void DnsServer::update(dns::Records records,
                       std::map<uint32_t, std::vector<std::string>> endpoint_networks) {
  impl_->records = std::move(records);
  impl_->endpoint_networks = std::move(endpoint_networks);
}

void DnsServer::stop() {
  impl_->stopped = true;
  boost::system::error_code ec;
  for (auto& s : impl_->udp_sockets) {
    s->close(ec);
  }
  for (auto& a : impl_->acceptors) {
    a->close(ec);
  }
}

uint64_t DnsServer::answered() const {
  return impl_->answered;
}
uint64_t DnsServer::forwarded() const {
  return impl_->forwarded;
}

}  // namespace netsetup
