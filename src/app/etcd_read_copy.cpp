#include "app/etcd_read_copy.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <optional>

#include "wire/object_key_codec.h"

namespace lmcache::app {
namespace {

// The wait before watching again after a watch closed: doubles from the first to the last.
constexpr std::chrono::milliseconds kFirstBackoff{200};
constexpr std::chrono::milliseconds kLastBackoff{5000};

std::optional<uint64_t> parse_bytes(const std::string& text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<core::DefaultLimit> parse_default(const std::string& text) {
  if (text == "none") return core::DefaultLimit{};
  if (auto bytes = parse_bytes(text)) return core::DefaultLimit{*bytes};
  return std::nullopt;
}

std::string encode_default(const core::DefaultLimit& limit) {
  return limit ? std::to_string(*limit) : "none";
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

EtcdReadCopy::EtcdReadCopy(const boost::asio::any_io_executor& executor, client::EtcdClient& etcd,
                           std::string prefix, core::QuotaStore& quotas, core::Pins& pins,
                           Options options, std::function<bool()> serving)
    : strand_(boost::asio::make_strand(executor)),
      timer_(strand_),
      reconnect_timer_(strand_),
      etcd_(etcd),
      prefix_(std::move(prefix)),
      quotas_(quotas),
      pins_(pins),
      options_(options),
      serving_(std::move(serving)),
      backoff_(kFirstBackoff) {}

void EtcdReadCopy::start() {
  boost::asio::post(strand_, [self = shared_from_this()] { self->poll(); });
}

void EtcdReadCopy::stop() {
  boost::asio::post(strand_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->timer_.cancel();
    self->reconnect_timer_.cancel();
    if (self->watch_) self->watch_->stop();
    self->watch_.reset();
  });
}

void EtcdReadCopy::schedule() {
  if (stopped_) return;
  const bool watched = options_.watch && watch_ && watch_->created();
  timer_.expires_after(watched && !serving_() ? options_.watched_poll : options_.unwatched_poll);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->poll();
  });
}

void EtcdReadCopy::poll() {
  if (stopped_) return;
  if (serving_()) return schedule();  // the leader is the writer: its state is the newest
  auto self = shared_from_this();
  etcd_.current_revision(prefix_, [self](const client::EtcdRangeResult& now) {
    boost::asio::post(self->strand_, [self, now] {
      if (now.error.empty() && now.revision != self->revision()) self->reread();
      self->schedule();
    });
  });
}

void EtcdReadCopy::reread() {
  if (stopped_) return;
  if (rereading_) {
    reread_again_ = true;
    return;
  }
  rereading_ = true;
  etcd_.get_prefix(prefix_, [self = shared_from_this()](const client::EtcdRangeResult& snapshot) {
    boost::asio::post(self->strand_, [self, snapshot] {
      self->rereading_ = false;
      if (snapshot.error.empty()) {
        self->read_revision_ = std::max(self->read_revision_, snapshot.revision);
        self->apply(snapshot.kvs, snapshot.revision, false);
      }
      if (self->reread_again_) {
        self->reread_again_ = false;
        return self->reread();
      }
      self->watch();
    });
  });
}

void EtcdReadCopy::watch() {
  if (stopped_ || !options_.watch || watch_ || reconnect_waiting_ || rereading_ ||
      read_revision_ == 0) {
    return;
  }
  const std::vector<client::MpEndpoint>& endpoints = etcd_.endpoints();
  const client::MpEndpoint& to = endpoints[next_endpoint_ % endpoints.size()];
  // Weak: the watch's callbacks must not keep this object alive (it owns the watch).
  std::weak_ptr<EtcdReadCopy> weak = weak_from_this();
  watch_ = std::make_shared<client::EtcdWatch>(
      strand_, to, prefix_, read_revision_ + 1,
      [weak](int64_t revision) {
        if (auto self = weak.lock()) self->watch_changed(revision);
      },
      [weak](const std::string& reason) {
        if (auto self = weak.lock()) self->watch_closed(reason);
      });
  watch_->start();
}

void EtcdReadCopy::watch_changed(int64_t revision) {
  backoff_ = kFirstBackoff;
  if (revision > read_revision_ && !serving_()) reread();
}

void EtcdReadCopy::watch_closed(const std::string& reason) {
  const bool was_confirmed = watch_ && watch_->created();
  const client::MpEndpoint to = watch_ ? watch_->endpoint() : client::MpEndpoint{};
  watch_.reset();
  if (stopped_) return;
  if (was_confirmed) backoff_ = kFirstBackoff;
  spdlog::log(was_confirmed ? spdlog::level::warn : spdlog::level::debug,
              "HA: the etcd watch of {} on {} closed ({}); watching again in {} ms", prefix_,
              to.host_header(), reason, backoff_.count());
  next_endpoint_ = (next_endpoint_ + 1) % etcd_.endpoints().size();
  // Read past whatever the watch could not deliver (a compacted revision, an oversized replay,
  // changes while it was down) before watching again.
  reread();
  // Poll at the quicker pace until a watch is confirmed again.
  if (timer_.expiry() > std::chrono::steady_clock::now() + options_.unwatched_poll) schedule();
  reconnect_waiting_ = true;
  reconnect_timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, kLastBackoff);
  reconnect_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec) return;
    self->reconnect_waiting_ = false;
    self->watch();
  });
}

void EtcdReadCopy::load(std::function<void(bool)> ready) {
  etcd_.get_prefix(prefix_, [self = shared_from_this(),
                             ready = std::move(ready)](const client::EtcdRangeResult& snapshot) {
    if (!snapshot.error.empty()) {
      spdlog::warn("HA: could not load quotas from etcd: {}", snapshot.error);
      return ready(false);
    }
    ready(self->apply(snapshot.kvs, snapshot.revision, true));
  });
}

bool EtcdReadCopy::apply(const std::vector<client::EtcdKeyValue>& kvs, int64_t at_revision,
                         bool force) {
  const std::string salt_prefix = prefix_ + "quota/";
  core::QuotaMap stored;
  core::DefaultLimit stored_default = quotas_.default_limit();  // kept when etcd has none
  std::vector<core::PinCount> stored_pins;
  for (const client::EtcdKeyValue& kv : kvs) {
    if (kv.key == prefix_ + "pins") {
      auto pins = decode_pins(kv.value);
      if (!pins) {
        spdlog::error("HA: the pins in etcd (revision {}) do not parse", at_revision);
        return false;
      }
      stored_pins = std::move(*pins);
    } else if (kv.key == prefix_ + "quota-default") {
      if (auto limit = parse_default(kv.value)) stored_default = *limit;
    } else if (kv.key.starts_with(salt_prefix)) {
      if (auto bytes = parse_bytes(kv.value)) stored[kv.key.substr(salt_prefix.size())] = *bytes;
    }
  }
  core::MutexLock lock(apply_mu_);
  if (!force && (at_revision <= revision() || serving_())) return true;
  try {
    for (const auto& [salt, limit] : quotas_.all()) {
      if (!stored.contains(salt)) quotas_.remove(salt);
    }
    for (const auto& [salt, limit] : stored) {
      if (quotas_.get(salt) != limit) quotas_.set(salt, limit);
    }
    if (quotas_.default_limit() != stored_default) quotas_.set_default_limit(stored_default);
    if (pins_.keys().sorted() != stored_pins) pins_.replace_all(stored_pins);
  } catch (const core::QuotaStoreError& error) {
    spdlog::error("HA: could not apply quotas from etcd: {}", error.what());
    return false;
  }
  applied_revision_.store(at_revision, std::memory_order_release);
  spdlog::log(force ? spdlog::level::info : spdlog::level::debug,
              "HA: quotas and pins as of etcd revision {}: {} quotas, {} pinned keys", at_revision,
              stored.size(), stored_pins.size());
  return true;
}

DurableKey EtcdReadCopy::salt_key(const std::string& salt) {
  return DurableKey{prefix_ + "quota/" + salt,
                    [this, salt]() -> std::optional<std::string> {
                      if (auto limit = quotas_.get(salt)) return std::to_string(*limit);
                      return std::nullopt;
                    },
                    [this, salt](const std::optional<std::string>& value) {
                      if (auto bytes = value ? parse_bytes(*value) : std::nullopt) {
                        quotas_.set(salt, *bytes);
                      } else {
                        quotas_.remove(salt);
                      }
                    }};
}

DurableKey EtcdReadCopy::default_key() {
  return DurableKey{
      prefix_ + "quota-default",
      [this]() -> std::optional<std::string> { return encode_default(quotas_.default_limit()); },
      [this](const std::optional<std::string>& value) {
        if (auto limit = value ? parse_default(*value) : std::nullopt) {
          quotas_.set_default_limit(*limit);
        }
      }};
}

DurableKey EtcdReadCopy::pins_key() {
  return DurableKey{
      prefix_ + "pins",
      [this]() -> std::optional<std::string> { return encode_pins(pins_.keys().sorted()); },
      [this](const std::optional<std::string>& value) {
        if (auto pins = value ? decode_pins(*value) : std::nullopt) {
          pins_.replace_all(*pins);
        } else if (!value) {
          pins_.replace_all({});
        }
      }};
}

}  // namespace lmcache::app
