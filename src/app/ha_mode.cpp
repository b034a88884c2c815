#include "app/ha_mode.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <random>

#include "http/json_response.h"

namespace lmcache::app {
namespace {

namespace beast_http = boost::beast::http;
using beast_http::verb;

std::string url_host(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// Deadlines of one etcd request on one endpoint: at most a quarter of the lease, so that a hung
// member (it accepts connections but does not answer) is passed over for the next endpoint
// while the leader's lease still holds, even when it is the last of three tried.
client::MpTimeouts etcd_timeouts(int64_t lease_s) {
  const auto quarter = std::chrono::milliseconds(lease_s * 1000 / 4);
  return {std::min<std::chrono::milliseconds>(quarter, std::chrono::milliseconds(1000)),
          std::min<std::chrono::milliseconds>(quarter, std::chrono::milliseconds(2000))};
}

// hostname-pid-random: unique per process, readable in /cluster.
std::string make_node_id() {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  std::random_device random;
  return fmt::format("{}-{}-{:04x}", host.data(), getpid(), random() & 0xffffU);
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

}  // namespace

HaMode::HaMode(const boost::asio::any_io_executor& executor, const CoordinatorConfig& config,
               uint16_t port, core::QuotaStore& quotas, core::Pins& pins, const Duties& duties)
    : etcd_(executor, *client::EtcdClient::parse_endpoints(config.etcd_endpoints, nullptr),
            etcd_timeouts(static_cast<int64_t>(config.leader_lease_s))),
      forward_client_(executor),
      writes_([this](const std::string& etcd_key, const std::optional<std::string>& value,
                     std::function<void(std::string)> done) {
        write_durable(etcd_key, value, std::move(done));
      }) {
  LeaderElectionOptions options;
  options.prefix = config.etcd_prefix;
  options.node_id = make_node_id();
  options.advertise_url = config.advertise_url.empty()
                              ? "http://" + url_host(config.host) + ":" + std::to_string(port)
                              : config.advertise_url;
  options.lease = std::chrono::seconds(config.leader_lease_s);
  LeaderElection::Hooks hooks;
  hooks.prepare = [this, executor, prepare = duties.prepare](int64_t epoch,
                                                             std::function<void(bool)> ready) {
    if (!prepare) return read_copy_->load(std::move(ready));
    prepare(epoch, [this, executor, ready = std::move(ready)]() mutable {
      boost::asio::post(executor, [this, ready = std::move(ready)]() mutable {
        read_copy_->load(std::move(ready));
      });
    });
  };
  hooks.on_elected = [start = duties.start](int64_t) {
    if (start) start();
  };
  hooks.on_deposed = duties.stop;
  spdlog::info("HA mode: etcd {}, prefix {}, node {} at {}, lease {} s", config.etcd_endpoints,
               options.prefix, options.node_id, options.advertise_url, options.lease.count());
  spdlog::info("HA mode: quotas live in etcd; the state file {} is not used", config.state_path);
  // As often as a follower reads the leader key (LeaderElection); the read copy polls this
  // often only while its watch is down.
  const auto poll = std::clamp<std::chrono::milliseconds>(
      std::chrono::duration_cast<std::chrono::milliseconds>(options.lease) / 10,
      std::chrono::milliseconds(100), std::chrono::milliseconds(500));
  election_ =
      std::make_shared<LeaderElection>(executor, etcd_, std::move(options), std::move(hooks));
  EtcdReadCopy::Options read_copy_options;
  read_copy_options.unwatched_poll = poll;
  read_copy_options.watched_poll = std::chrono::seconds(5);  // the watch reports changes sooner
  read_copy_ =
      std::make_shared<EtcdReadCopy>(executor, etcd_, config.etcd_prefix, quotas, pins,
                                     read_copy_options, [this] { return election_->serving(); });
}

void HaMode::start() {
  election_->start();
  read_copy_->start();
}

void HaMode::stop() {
  read_copy_->stop();
  election_->stop();
}
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
    std::optional<DurableKey> key = durable_key(request);
    if (!key) return false;
    respond = writes_.admit(std::move(*key), std::move(respond));
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

std::optional<DurableKey> HaMode::durable_key(const http::HttpRequest& request) const {
  const verb method = request.method();
  const auto segments = path_segments(request.target());
  if (segments.size() == 2 && segments[0] == "cache" && segments[1] == "pins") {
    if (method != verb::post && method != verb::delete_) return std::nullopt;
    return read_copy_->pins_key();
  }
  if (method != verb::put && method != verb::delete_) return std::nullopt;
  if (segments.size() == 2 && segments[0] == "quota" && segments[1] == "config") {
    if (method != verb::put) return std::nullopt;
    return read_copy_->default_key();
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
  return read_copy_->salt_key(*salt);
}

void HaMode::write_durable(const std::string& etcd_key, const std::optional<std::string>& value,
                           std::function<void(std::string)> done) {
  const std::optional<uint64_t> epoch = election_->dispatch_epoch();
  if (!epoch) return done("this coordinator lost its leadership; retry");
  auto committed = [done = std::move(done)](const client::EtcdTxnResult& result) {
    if (!result.error.empty()) return done("etcd: " + result.error);
    if (!result.succeeded) return done("the write was fenced: a newer leader exists");
    done({});
  };
  const auto guard = static_cast<int64_t>(*epoch);
  if (value) {
    etcd_.put_if_guard(election_->leader_key(), guard, etcd_key, *value, std::move(committed));
  } else {
    etcd_.delete_if_guard(election_->leader_key(), guard, etcd_key, std::move(committed));
  }
}

}  // namespace lmcache::app
