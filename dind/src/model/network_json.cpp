#include "dind/model/network_json.hpp"

#include "reader.hpp"

namespace dind::model {
using detail::Reader;
using json = nlohmann::json;

namespace {

base::Result<IpamPool> decode_pool(const json& j) {
  Reader r(j, "IPAMConfig");
  IpamPool p;
  DIND_TRY(r.get("Subnet", p.subnet));
  DIND_TRY(r.get("IPRange", p.ip_range));
  DIND_TRY(r.get("Gateway", p.gateway));
  DIND_TRY(r.get("AuxiliaryAddresses", p.aux_addresses));
  return p;
}

}  // namespace

base::Result<NetworkCreate> decode_network_create(const json& body) {
  if (!body.is_object()) {
    return base::make_error(base::ErrorKind::kInvalidArgument, "invalid JSON in the request body");
  }
  Reader r(body, "NetworkCreateRequest");
  NetworkCreate n;
  DIND_TRY(r.get("Name", n.name));
  DIND_TRY(r.get("Driver", n.driver));
  DIND_TRY(r.get("Internal", n.internal));
  DIND_TRY(r.get("Attachable", n.attachable));
  DIND_TRY(r.get("EnableIPv6", n.enable_ipv6));
  DIND_TRY(r.get("CheckDuplicate", n.check_duplicate));
  DIND_TRY(r.get("Options", n.options));
  DIND_TRY(r.get("Labels", n.labels));
  if (const json* ipam = r.find("IPAM")) {
    if (!ipam->is_object()) {
      return r.mismatch("IPAM", *ipam, "network.IPAM");
    }
    Reader ir(*ipam, "IPAM");
    DIND_TRY(ir.get("Driver", n.ipam_driver));
    if (const json* o = ir.find("Options"); o != nullptr && !o->is_null()) {
      DIND_TRY(ir.get("Options", n.ipam_options.emplace()));
    }
    DIND_TRY(ir.list("Config", n.ipam, "[]network.IPAMConfig", decode_pool));
  }
  return n;
}

}  // namespace dind::model
