#include "app/ha_mode.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <random>

#include "http/json_response.h"
#include "wire/object_key_codec.h"

namespace lmcache::app {
namespace {

namespace beast_http = boost::beast::http;
using beast_http::verb;

std::string url_host(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// hostname-pid-random: unique per process, readable in /cluster.
std::string make_node_id() {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  std::random_device random;
  return fmt::format("{}-{}-{:04x}", host.data(), getpid(), random() & 0xffffU);
}

std::optional<uint64_t> parse_bytes(const std::string& text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The request's path without the query, split at '/'; a quota route has 2 or 3 segments.
std::vector<std::string_view> path_segments(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string_view> out;
  size_t start = 1;
  while (start <= target.size()) {
    size_t slash = target.find('/', start);
    if (slash == std::string_view::npos) slash = target.size();
    out.push_back(target.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

http::HttpResponse unavailable(std::string_view detail) {
  http::HttpResponse response =
      http::detail_response(beast_http::status::service_unavailable, detail);
  response.set(beast_http::field::retry_after, "1");
  return response;
}

// Hop-by-hop and per-connection fields: not relayed either way.
bool hop_by_hop(std::string_view name) {
  static constexpr std::array<std::string_view, 7> kFields = {
      "connection", "keep-alive", "transfer-encoding", "content-length", "host", "date", "server"};
  for (std::string_view field : kFields) {
    if (boost::beast::iequals(name, field)) return true;
  }
  return false;
}

std::string encode_pins(const std::vector<core::PinCount>& pins) {
  boost::json::array out;
  out.reserve(pins.size());
  for (const core::PinCount& pin : pins) {
    out.emplace_back(boost::json::object{
        {"key", wire::encode_object_key(core::ObjectKeyView(pin.key))}, {"count", pin.count}});
  }
  return boost::json::serialize(out);
}

std::optional<std::vector<core::PinCount>> decode_pins(const std::string& text) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_array()) return std::nullopt;
  std::vector<core::PinCount> out;
  for (const boost::json::value& entry : value.get_array()) {
    const boost::json::object* object = entry.if_object();
    if (object == nullptr || !object->contains("key") || !object->contains("count")) {
      return std::nullopt;
    }
    core::ObjectKeyResult key = wire::decode_object_key(object->at("key"));
    const boost::json::value& count = object->at("count");
    if (!key.ok() || !count.is_number()) return std::nullopt;
    boost::system::error_code count_ec;
    const auto n = count.to_number<uint64_t>(count_ec);
    if (count_ec || n == 0) return std::nullopt;
    out.push_back({std::move(*key.key), n});
  }
  return out;
}

}  // namespace

HaMode::HaMode(const boost::asio::any_io_executor& executor, const CoordinatorConfig& config,
               uint16_t port, core::QuotaStore& quotas, core::Pins& pins, const Duties& duties)
    : quotas_(quotas),
      pins_(pins),
      prefix_(config.etcd_prefix),
      etcd_(executor, *client::EtcdClient::parse_endpoints(config.etcd_endpoints, nullptr)),
      forward_client_(executor) {
  LeaderElectionOptions options;
  options.prefix = config.etcd_prefix;
  options.node_id = make_node_id();
  options.advertise_url = config.advertise_url.empty()
                              ? "http://" + url_host(config.host) + ":" + std::to_string(port)
                              : config.advertise_url;
  options.lease = std::chrono::seconds(config.leader_lease_s);
  LeaderElection::Hooks hooks;
  hooks.prepare = [this, prepare = duties.prepare](int64_t epoch, std::function<void(bool)> ready) {
    if (prepare) prepare(epoch);
    load(std::move(ready));
  };
  hooks.on_elected = [start = duties.start](int64_t) {
    if (start) start();
  };
  hooks.on_deposed = duties.stop;
  spdlog::info("HA mode: etcd {}, prefix {}, node {} at {}, lease {} s", config.etcd_endpoints,
               options.prefix, options.node_id, options.advertise_url, options.lease.count());
  spdlog::info("HA mode: quotas live in etcd; the state file {} is not used", config.state_path);
  election_ =
      std::make_shared<LeaderElection>(executor, etcd_, std::move(options), std::move(hooks));
}

void HaMode::start() { election_->start(); }
void HaMode::stop() { election_->stop(); }
bool HaMode::stopped() const { return election_->stopped(); }

std::optional<uint64_t> HaMode::dispatch_epoch() const { return election_->dispatch_epoch(); }

http::ClusterStatus HaMode::status() const {
  const LeadershipView view = election_->view();
  http::ClusterStatus status;
  status.ha = true;
  status.role = role_name(view.role);
  status.leader_url = view.leader_url;
  status.epoch = view.epoch;
  status.node_id = election_->options().node_id;
  status.node_url = election_->options().advertise_url;
  if (view.last_renewal) {
    status.last_lease_renewal =
        std::chrono::duration<double>(view.last_renewal->time_since_epoch()).count();
  }
  return status;
}

bool HaMode::front(http::HttpRequest& request, http::Respond& respond) {
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/healthz" || path == "/readyz" || path == "/cluster" || path == "/cluster/log" ||
      path == "/cluster/snapshot" || path == "/metrics") {
    return false;
  }
  if (election_->serving()) {  // the fast path of every request the leader serves
    std::optional<QuotaWrite> write = quota_write(request);
    if (!write) return false;
    respond = [this, write = std::move(*write),
               respond = std::move(respond)](http::HttpResponse response) mutable {
      if (response.result_int() / 100 != 2) return respond(std::move(response));
      persist(write, std::move(response), std::move(respond));
    };
    return false;
  }
  const LeadershipView view = election_->view();
  if (request.find(kForwardedHeader) != request.end()) {
    respond(unavailable("this coordinator does not lead; the leader changed, retry"));
  } else if (!view.leader_url) {
    respond(unavailable("no coordinator leads yet (HA mode); retry shortly"));
  } else {
    forward(request, respond, *view.leader_url);
  }
  return true;
}

void HaMode::forward(http::HttpRequest& request, http::Respond& respond,
                     const std::string& leader) {
  auto endpoints = client::EtcdClient::parse_endpoints(leader, nullptr);
  if (!endpoints) return respond(unavailable("the leader's URL is not usable: " + leader));
  std::vector<std::pair<std::string, std::string>> fields;
  for (const auto& field : request) {
    if (hop_by_hop(field.name_string())) continue;
    fields.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  fields.emplace_back(kForwardedHeader, election_->options().node_id);
  forward_client_.send(request.method(), endpoints->front(), request.target(), fields,
                       std::move(request.body()),
                       [respond = std::move(respond), leader](client::MpResponse answer) {
                         if (!answer.ok()) {
                           return respond(unavailable("the leader at " + leader +
                                                      " cannot be reached: " + answer.error_text));
                         }
                         http::HttpResponse response;
                         response.result(answer.status);
                         for (const auto& [name, value] : answer.headers) {
                           if (!hop_by_hop(name)) response.insert(name, value);
                         }
                         response.body() = std::move(answer.body);
                         response.prepare_payload();
                         respond(std::move(response));
                       });
}

std::optional<HaMode::QuotaWrite> HaMode::quota_write(const http::HttpRequest& request) const {
  const verb method = request.method();
  const auto segments = path_segments(request.target());
  QuotaWrite write;
  if (segments.size() == 2 && segments[0] == "cache" && segments[1] == "pins") {
    if (method != verb::post && method != verb::delete_) return std::nullopt;
    write.kind = QuotaWrite::Kind::kPins;
    write.pins_before = pins_.keys().sorted();
    return write;
  }
  if (method != verb::put && method != verb::delete_) return std::nullopt;
  if (segments.size() == 2 && segments[0] == "quota" && segments[1] == "config") {
    if (method != verb::put) return std::nullopt;
    write.kind = QuotaWrite::Kind::kDefault;
    write.default_before = quotas_.default_limit();
    return write;
  }
  std::string_view encoded;
  if (segments.size() == 2 && segments[0] == "quota") {
    encoded = segments[1];
  } else if (segments.size() == 3 && segments[0] == "l2" && segments[1] == "quota") {
    encoded = segments[2];
  } else {
    return std::nullopt;
  }
  auto salt = http::percent_decode(encoded);
  if (!salt || salt->empty()) return std::nullopt;  // the route answers the error
  write.salt = std::move(*salt);
  write.salt_before = quotas_.get(write.salt);
  return write;
}

void HaMode::persist(const QuotaWrite& write, http::HttpResponse response, http::Respond respond) {
  const std::optional<uint64_t> epoch = election_->dispatch_epoch();
  if (!epoch) {
    undo(write);
    return respond(unavailable("this coordinator lost its leadership; retry"));
  }
  // TODO(ha): two concurrent writes of one salt may reach etcd out of order; each writes the
  // store's value at its own answer, so the later one usually carries the newer value, but
  // there is no sequencing. Serialise per salt if operators write concurrently.
  auto done = [this, write, response = std::move(response),
               respond = std::move(respond)](const client::EtcdTxnResult& result) mutable {
    if (!result.error.empty() || !result.succeeded) {
      undo(write);
      const std::string why = result.error.empty() ? "the write was fenced: a newer leader exists"
                                                   : "etcd: " + result.error;
      spdlog::warn("HA: quota write not committed: {}", why);
      return respond(unavailable("the quota was not stored: " + why));
    }
    respond(std::move(response));
  };
  const std::string& leader_key = election_->leader_key();
  const auto guard = static_cast<int64_t>(*epoch);
  if (write.kind == QuotaWrite::Kind::kPins) {
    etcd_.put_if_guard(leader_key, guard, prefix_ + "pins", encode_pins(pins_.keys().sorted()),
                       std::move(done));
    return;
  }
  if (write.kind == QuotaWrite::Kind::kDefault) {
    const core::DefaultLimit now = quotas_.default_limit();
    etcd_.put_if_guard(leader_key, guard, prefix_ + "quota-default",
                       now ? std::to_string(*now) : "none", std::move(done));
    return;
  }
  const std::string key = prefix_ + "quota/" + write.salt;
  if (const std::optional<uint64_t> now = quotas_.get(write.salt)) {
    etcd_.put_if_guard(leader_key, guard, key, std::to_string(*now), std::move(done));
  } else {
    etcd_.delete_if_guard(leader_key, guard, key, std::move(done));
  }
}

void HaMode::undo(const QuotaWrite& write) {
  try {
    if (write.kind == QuotaWrite::Kind::kPins) {
      pins_.replace_all(write.pins_before);
    } else if (write.kind == QuotaWrite::Kind::kDefault) {
      quotas_.set_default_limit(write.default_before);
    } else if (write.salt_before) {
      quotas_.set(write.salt, *write.salt_before);
    } else {
      quotas_.remove(write.salt);
    }
  } catch (const core::QuotaStoreError& error) {
    spdlog::error("HA: could not undo a quota write: {}", error.what());
  }
}

void HaMode::load(std::function<void(bool)> ready) {
  etcd_.get_prefix(prefix_, [this, ready = std::move(ready)](client::EtcdRangeResult result) {
    if (!result.error.empty()) {
      spdlog::warn("HA: could not load quotas from etcd: {}", result.error);
      return ready(false);
    }
    const std::string salt_prefix = prefix_ + "quota/";
    const std::string default_key = prefix_ + "quota-default";
    core::QuotaMap stored;
    std::optional<core::DefaultLimit> stored_default;
    std::vector<core::PinCount> stored_pins;
    for (const client::EtcdKeyValue& kv : result.kvs) {
      if (kv.key == prefix_ + "pins") {
        auto pins = decode_pins(kv.value);
        if (!pins) {
          spdlog::error("HA: the pins in etcd do not parse; not leading");
          return ready(false);
        }
        stored_pins = std::move(*pins);
        continue;
      }
      if (kv.key == default_key) {
        if (kv.value == "none") {
          stored_default = core::DefaultLimit{};
        } else if (auto bytes = parse_bytes(kv.value)) {
          stored_default = bytes;
        }
      } else if (kv.key.starts_with(salt_prefix)) {
        if (auto bytes = parse_bytes(kv.value)) {
          stored[kv.key.substr(salt_prefix.size())] = *bytes;
        }
      }
    }
    try {
      for (const auto& [salt, limit] : quotas_.all()) {
        if (!stored.contains(salt)) quotas_.remove(salt);
      }
      for (const auto& [salt, limit] : stored) quotas_.set(salt, limit);
      if (stored_default) quotas_.set_default_limit(*stored_default);
      pins_.replace_all(stored_pins);
    } catch (const core::QuotaStoreError& error) {
      spdlog::error("HA: could not apply quotas from etcd: {}", error.what());
      return ready(false);
    }
    spdlog::info("HA: loaded {} quotas and {} pinned keys from etcd", stored.size(),
                 stored_pins.size());
    ready(true);
  });
}

}  // namespace lmcache::app
