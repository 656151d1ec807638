#include "netsetup/conntrack.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>

namespace netsetup {
using dind::base::Result;
using dind::base::sys_error;

namespace {

struct MnlDeleter {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlDeleter>;

// Calls f(attr) for each attribute in [start, start + len). (libmnl's
// iteration macros assign void* and do not compile as C++.)
template <typename F>
void for_each_attr(const void* start, size_t len, F f) {
  const char* begin = static_cast<const char*>(start);
  for (auto* a = static_cast<const nlattr*>(start);
       mnl_attr_ok(a, static_cast<int>(begin + len - reinterpret_cast<const char*>(a)));
       a = mnl_attr_next(a)) {
    f(a);
  }
}

template <typename F>
void for_each_nested(const nlattr* nest, F f) {
  for_each_attr(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), f);
}

struct Tuple {
  uint8_t proto = 0;
  uint32_t src = 0, dst = 0;  // host order
  uint16_t sport = 0, dport = 0;
};

// Parses a CTA_TUPLE_* nest.
Tuple parse_tuple(const nlattr* nest) {
  Tuple t;
  for_each_nested(nest, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == CTA_TUPLE_IP) {
      for_each_nested(a, [&](const nlattr* ip) {
        if (mnl_attr_get_type(ip) == CTA_IP_V4_SRC && mnl_attr_get_payload_len(ip) == 4) {
          t.src = ntohl(mnl_attr_get_u32(ip));
        } else if (mnl_attr_get_type(ip) == CTA_IP_V4_DST && mnl_attr_get_payload_len(ip) == 4) {
          t.dst = ntohl(mnl_attr_get_u32(ip));
        }
      });
    } else if (mnl_attr_get_type(a) == CTA_TUPLE_PROTO) {
      for_each_nested(a, [&](const nlattr* p) {
        switch (mnl_attr_get_type(p)) {
          case CTA_PROTO_NUM:
            t.proto = mnl_attr_get_u8(p);
            break;
          case CTA_PROTO_SRC_PORT:
            t.sport = ntohs(mnl_attr_get_u16(p));
            break;
          case CTA_PROTO_DST_PORT:
            t.dport = ntohs(mnl_attr_get_u16(p));
            break;
          default:
            break;
        }
      });
    }
  });
  return t;
}

struct DumpState {
  const std::vector<PortMapping>* removed;
  std::vector<std::string> doomed;  // raw CTA_TUPLE_ORIG payloads
};

int on_entry(const nlmsghdr* nlh, void* data) {
  auto* st = static_cast<DumpState*>(data);
  const nlattr* orig = nullptr;
  const nlattr* reply = nullptr;
  const void* start = mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg));
  const size_t len = static_cast<size_t>(static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh)) -
                                         static_cast<const char*>(start));
  for_each_attr(start, len, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == CTA_TUPLE_ORIG) {
      orig = a;
    } else if (mnl_attr_get_type(a) == CTA_TUPLE_REPLY) {
      reply = a;
    }
  });
  if (orig == nullptr || reply == nullptr) {
    return MNL_CB_OK;
  }
  const Tuple o = parse_tuple(orig);
  const Tuple r = parse_tuple(reply);
  for (const auto& m : *st->removed) {
    const uint8_t proto = m.proto == Proto::kTcp ? IPPROTO_TCP : IPPROTO_UDP;
    if (o.proto == proto && o.dport == m.host_port && (!m.host_ip || o.dst == m.host_ip->value) &&
        r.src == m.container_ip.value) {
      st->doomed.emplace_back(static_cast<const char*>(mnl_attr_get_payload(orig)),
                              mnl_attr_get_payload_len(orig));
      break;
    }
  }
  return MNL_CB_OK;
}

nlmsghdr* ct_header(char* buf, uint16_t msg_type, uint16_t flags, uint32_t seq) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | msg_type);
  nlh->nlmsg_flags = flags;
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_INET;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  return nlh;
}

Result<MnlSocket> open_ctnetlink() {
  MnlSocket s(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC));
  if (!s) {
    return sys_error(errno, "ctnetlink socket");
  }
  if (mnl_socket_bind(s.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return sys_error(errno, "ctnetlink bind");
  }
  return s;
}

}  // namespace

Result<int> flush_conntrack(const std::vector<PortMapping>& removed) {
  if (removed.empty()) {
    return 0;
  }
  auto sock = open_ctnetlink();
  if (!sock) {
    return std::move(sock).error();
  }
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  uint32_t seq = static_cast<uint32_t>(time(nullptr));
  nlmsghdr* nlh = ct_header(buf.data(), IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, seq);
  if (mnl_socket_sendto(sock->get(), nlh, nlh->nlmsg_len) < 0) {
    return sys_error(errno, "conntrack dump");
  }
  DumpState state{&removed, {}};
  const unsigned portid = mnl_socket_get_portid(sock->get());
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(sock->get(), buf.data(), buf.size());
    if (n < 0) {
      return sys_error(errno, "conntrack dump");
    }
    const int rc = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, on_entry, &state);
    if (rc == MNL_CB_STOP) {
      break;
    }
    if (rc < 0) {
      return sys_error(errno, "conntrack dump");
    }
  }
  int deleted = 0;
  for (const auto& tuple : state.doomed) {
    nlh = ct_header(buf.data(), IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, ++seq);
    mnl_attr_put(nlh, CTA_TUPLE_ORIG | NLA_F_NESTED, tuple.size(), tuple.data());
    if (mnl_socket_sendto(sock->get(), nlh, nlh->nlmsg_len) < 0) {
      return sys_error(errno, "conntrack delete");
    }
    const ssize_t n = mnl_socket_recvfrom(sock->get(), buf.data(), buf.size());
    // ENOENT: the entry timed out meanwhile, which is what we wanted anyway.
    if (n >= 0 &&
        mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, nullptr, nullptr) >= 0) {
      ++deleted;
    } else if (errno != ENOENT) {
      return sys_error(errno, "conntrack delete");
    }
  }
  return deleted;
}

}  // namespace netsetup
