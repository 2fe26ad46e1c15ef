#include "lb/lb_config_toml.h"

#include <utility>

#include "syncd/toml/toml_file.h"
#include "syncd/toml/toml_table_reader.h"

namespace gwsync::lb {

namespace {

using Reader = syncd::TomlTableReader;

ServiceSpec readService(Reader& r) {
  ServiceSpec s;
  s.name = r.string("name").value_or("");
  s.vip = r.string("vip").value_or("");
  s.protocol = r.string("protocol").value_or("");
  s.port = r.integer("port").value_or(0);
  s.table_size = r.integer("table_size");
  r.forEachTable("backend", [&](Reader& br) {
    BackendSpec b;
    b.address = br.string("address").value_or("");
    b.port = br.integer("port");
    b.weight = br.integer("weight");
    br.rejectUnknown({"address", "port", "weight"});
    s.backends.push_back(std::move(b));
  });
  r.rejectUnknown({"name", "vip", "protocol", "port", "table_size", "backend"});
  return s;
}

}  // namespace

LbResult readLbConfig(const toml::table* lb) {
  LbSpec spec;
  std::vector<syncd::TomlError> errors;
  if (lb != nullptr) {
    Reader r(*lb, "lb", errors);
    spec.seed = r.integer("seed");
    r.forEachTable("service", [&](Reader& sr) { spec.services.push_back(readService(sr)); });
    r.rejectUnknown({"seed", "service"});
  }
  // Reading errors first: a value of the wrong type would only cause follow-up errors below.
  if (!errors.empty()) return syncd::fail(syncd::asErrors<LbError>(std::move(errors)));
  return buildLbConfig(spec);
}

LbResult loadLbFile(const std::string& path) {
  auto root = syncd::parseTomlFile(path);
  if (!root) return syncd::fail(std::vector<LbError>{{"", "", root.error()}});
  const toml::node* lb = root->get("lb");
  if (lb != nullptr && !lb->is_table()) {
    return syncd::fail(std::vector<LbError>{{"lb", syncd::renderToml(*lb), "expected a table"}});
  }
  return readLbConfig(lb == nullptr ? nullptr : lb->as_table());
}

}  // namespace gwsync::lb
