#include "client/etcd_client.h"

#include <algorithm>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <utility>

#include "client/etcd_json_fields.h"

namespace lmcache::client {
namespace {

namespace json = boost::json;
namespace base64 = boost::beast::detail::base64;

using etcd_json::int_field;
using etcd_json::string_field;

std::optional<EtcdKeyValue> decode_kv(const json::value& value) {
  const json::object* object = value.if_object();
  if (object == nullptr) return std::nullopt;
  auto key = etcd_base64_decode(string_field(*object, "key"));
  auto data = etcd_base64_decode(string_field(*object, "value"));
  if (!key || !data) return std::nullopt;
  EtcdKeyValue kv;
  kv.key = std::move(*key);
  kv.value = std::move(*data);
  kv.create_revision = int_field(*object, "create_revision");
  kv.mod_revision = int_field(*object, "mod_revision");
  kv.lease = int_field(*object, "lease");
  return kv;
}

int64_t header_revision(const json::object& object) {
  const json::value* header = object.if_contains("header");
  if (header == nullptr || !header->is_object()) return 0;
  return int_field(header->get_object(), "revision");
}

// The body parsed as an object, or nullptr with `error` set.
std::optional<json::object> parse_object(const std::string& body, std::string& error) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec || !value.is_object()) {
    error = "malformed answer from etcd";
    return std::nullopt;
  }
  return std::move(value.get_object());
}

// Reads the kvs of a RangeResponse into `result`.
void decode_range(const json::object& object, EtcdRangeResult& result) {
  result.revision = header_revision(object);
  if (const json::value* kvs = object.if_contains("kvs"); kvs != nullptr && kvs->is_array()) {
    for (const json::value& entry : kvs->get_array()) {
      auto kv = decode_kv(entry);
      if (!kv) {
        result.error = "malformed key in etcd answer";
        result.kvs.clear();
        return;
      }
      result.kvs.push_back(std::move(*kv));
    }
  }
}

json::object leader_compare(std::string_view guard_key, int64_t guard_revision) {
  return json::object{{"key", etcd_base64_encode(guard_key)},
                      {"target", "CREATE"},
                      {"result", "EQUAL"},
                      {"create_revision", std::to_string(guard_revision)}};
}

// Reads a TxnResponse: whether it succeeded and, when it did not and the failure branch read
// a key (create_if_absent), that key.
void decode_txn(const json::object& object, EtcdTxnResult& result) {
  result.revision = header_revision(object);
  const json::value* succeeded = object.if_contains("succeeded");
  result.succeeded = succeeded != nullptr && succeeded->is_bool() && succeeded->get_bool();
  const json::value* responses = object.if_contains("responses");
  if (result.succeeded || responses == nullptr || !responses->is_array() ||
      responses->get_array().empty()) {
    return;
  }
  const json::value& first = responses->get_array().front();
  const json::value* range =
      first.is_object() ? first.get_object().if_contains("response_range") : nullptr;
  if (range != nullptr && range->is_object()) {
    EtcdRangeResult existing;
    decode_range(range->get_object(), existing);
    if (!existing.kvs.empty()) result.existing = std::move(existing.kvs.front());
  }
}

}  // namespace

std::string etcd_prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return std::string(1, '\0');
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

std::string etcd_base64_encode(std::string_view bytes) {
  std::string out(base64::encoded_size(bytes.size()), '\0');
  out.resize(base64::encode(out.data(), bytes.data(), bytes.size()));
  return out;
}

std::optional<std::string> etcd_base64_decode(std::string_view text) {
  // Beast's decoder stops at the first character outside the alphabet, so check it all first.
  if (text.size() % 4 != 0) return std::nullopt;
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  for (size_t i = 0; i + padding < text.size(); ++i) {
    const char c = text[i];
    const bool in_alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                             (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!in_alphabet) return std::nullopt;
  }
  std::string out(base64::decoded_size(text.size()), '\0');
  const auto decoded = base64::decode(out.data(), text.data(), text.size());
  out.resize(decoded.first);
  return out;
}

EtcdClient::EtcdClient(const boost::asio::any_io_executor& executor,
                       std::vector<MpEndpoint> endpoints, MpTimeouts timeouts)
    : http_(executor, timeouts), endpoints_(std::move(endpoints)) {}

std::optional<std::vector<MpEndpoint>> EtcdClient::parse_endpoints(std::string_view list,
                                                                   std::string* why) {
  std::vector<MpEndpoint> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view entry = list.substr(start, comma - start);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    start = comma + 1;
    if (entry.empty()) continue;
    const std::string original(entry);
    if (entry.starts_with("http://")) entry.remove_prefix(7);
    if (entry.find("://") != std::string_view::npos) {
      if (why) *why = "'" + original + "' is not an http:// URL";
      return std::nullopt;
    }
    if (!entry.empty() && entry.back() == '/') entry.remove_suffix(1);
    const size_t colon = entry.rfind(':');
    const bool bracketed_without_port = !entry.empty() && entry.back() == ']';
    if (colon == std::string_view::npos || bracketed_without_port || colon == 0) {
      if (why) *why = "'" + original + "' has no host:port";
      return std::nullopt;
    }
    const std::string_view port_text = entry.substr(colon + 1);
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      if (why) *why = "'" + original + "' has no valid port";
      return std::nullopt;
    }
    out.push_back({std::string(entry.substr(0, colon)), static_cast<uint16_t>(port)});
  }
  if (out.empty()) {
    if (why) *why = "no endpoint given";
    return std::nullopt;
  }
  return out;
}

void EtcdClient::post(std::string path, std::string body, JsonCallback done) {
  post_to(std::make_shared<std::string>(std::move(path)),
          std::make_shared<std::string>(std::move(body)), preferred_.load(), 0,
          std::make_shared<JsonCallback>(std::move(done)));
}

void EtcdClient::post_to(const std::shared_ptr<std::string>& path,
                         const std::shared_ptr<std::string>& body, size_t first, size_t attempt,
                         const std::shared_ptr<JsonCallback>& done) {
  const size_t index = (first + attempt) % endpoints_.size();
  http_.request(boost::beast::http::verb::post, endpoints_[index], *path, *body,
                [this, path, body, first, attempt, index, done](MpResponse response) {
                  const bool retry = !response.ok() || response.status >= 500;
                  if (retry && attempt + 1 < endpoints_.size()) {
                    post_to(path, body, first, attempt + 1, done);
                    return;
                  }
                  if (!response.ok()) return (*done)(response.error_text, {});
                  preferred_.store(index);
                  if (!response.success()) {
                    std::string detail = response.body.substr(0, 200);
                    return (*done)("HTTP " + std::to_string(response.status) + ": " + detail, {});
                  }
                  (*done)({}, std::move(response.body));
                });
}

template <typename Result>
void EtcdClient::call(std::string_view path, const json::object& request,
                      std::function<void(const json::object&, Result&)> read,
                      std::function<void(Result)> done) {
  post(std::string(path), json::serialize(request),
       [read = std::move(read), done = std::move(done)](std::string error, std::string body) {
         Result result;
         if (error.empty()) {
           // The gateway writes one JSON object a line; a streaming call's first line is its
           // first answer.
           body.resize(std::min(body.size(), body.find('\n')));
           if (std::optional<json::object> object = parse_object(body, error)) {
             read(*object, result);
           }
         }
         if (result.error.empty()) result.error = std::move(error);
         done(std::move(result));
       });
}

void EtcdClient::grant_lease(int64_t ttl_seconds, LeaseCallback done) {
  call<EtcdLeaseResult>(
      "/v3/lease/grant", json::object{{"TTL", std::to_string(ttl_seconds)}},
      [](const json::object& answer, EtcdLeaseResult& result) {
        result.id = int_field(answer, "ID");
        result.ttl = int_field(answer, "TTL");
        if (result.id == 0) {
          result.error = "etcd granted no lease: " + string_field(answer, "error");
        }
      },
      std::move(done));
}

void EtcdClient::keep_alive(int64_t lease_id, LeaseCallback done) {
  // A streaming call on the gateway: one request object in, one {"result": ...} line out.
  call<EtcdLeaseResult>(
      "/v3/lease/keepalive", json::object{{"ID", std::to_string(lease_id)}},
      [lease_id](const json::object& answer, EtcdLeaseResult& result) {
        const json::value* inner = answer.if_contains("result");
        if (inner == nullptr || !inner->is_object()) {
          result.error = "etcd keep-alive failed: " + json::serialize(answer).substr(0, 200);
          return;
        }
        result.id = lease_id;
        result.ttl = int_field(inner->get_object(), "TTL");
      },
      std::move(done));
}

void EtcdClient::revoke_lease(int64_t lease_id, std::function<void(std::string error)> done) {
  call<EtcdLeaseResult>(
      "/v3/lease/revoke", json::object{{"ID", std::to_string(lease_id)}},
      [](const json::object&, EtcdLeaseResult&) {},
      [done = std::move(done)](EtcdLeaseResult result) {
        if (done) done(std::move(result.error));
      });
}

void EtcdClient::range(const json::object& request, RangeCallback done) {
  call<EtcdRangeResult>("/v3/kv/range", request, decode_range, std::move(done));
}

void EtcdClient::get(std::string_view key, RangeCallback done) {
  range(json::object{{"key", etcd_base64_encode(key)}}, std::move(done));
}

void EtcdClient::get_prefix(std::string_view prefix, RangeCallback done) {
  range(json::object{{"key", etcd_base64_encode(prefix)},
                     {"range_end", etcd_base64_encode(etcd_prefix_end(prefix))}},
        std::move(done));
}

void EtcdClient::current_revision(std::string_view key, RangeCallback done) {
  range(json::object{{"key", etcd_base64_encode(key)}, {"count_only", true}}, std::move(done));
}

void EtcdClient::txn(const json::object& request, TxnCallback done) {
  call<EtcdTxnResult>("/v3/kv/txn", request, decode_txn, std::move(done));
}

void EtcdClient::create_if_absent(std::string_view key, std::string_view value, int64_t lease,
                                  TxnCallback done) {
  json::object put{{"key", etcd_base64_encode(key)}, {"value", etcd_base64_encode(value)}};
  if (lease != 0) put["lease"] = std::to_string(lease);
  txn(json::object{{"compare", json::array{json::object{{"key", etcd_base64_encode(key)},
                                                        {"target", "CREATE"},
                                                        {"result", "EQUAL"},
                                                        {"create_revision", "0"}}}},
                   {"success", json::array{json::object{{"request_put", std::move(put)}}}},
                   {"failure",
                    json::array{json::object{
                        {"request_range", json::object{{"key", etcd_base64_encode(key)}}}}}}},
      std::move(done));
}

void EtcdClient::fenced_txn(std::string_view guard_key, int64_t guard_revision,
                            json::object request_op, TxnCallback done) {
  txn(json::object{{"compare", json::array{leader_compare(guard_key, guard_revision)}},
                   {"success", json::array{std::move(request_op)}}},
      std::move(done));
}

void EtcdClient::put_if_guard(std::string_view guard_key, int64_t guard_revision,
                              std::string_view key, std::string_view value, TxnCallback done) {
  fenced_txn(guard_key, guard_revision,
             json::object{{"request_put", json::object{{"key", etcd_base64_encode(key)},
                                                       {"value", etcd_base64_encode(value)}}}},
             std::move(done));
}

void EtcdClient::delete_if_guard(std::string_view guard_key, int64_t guard_revision,
                                 std::string_view key, TxnCallback done) {
  fenced_txn(guard_key, guard_revision,
             json::object{{"request_delete_range", json::object{{"key", etcd_base64_encode(key)}}}},
             std::move(done));
}

void EtcdClient::remove(std::string_view key, TxnCallback done) {
  call<EtcdTxnResult>(
      "/v3/kv/deleterange", json::object{{"key", etcd_base64_encode(key)}},
      [](const json::object& answer, EtcdTxnResult& result) {
        result.revision = header_revision(answer);
        result.succeeded = true;
      },
      std::move(done));
}

}  // namespace lmcache::client
