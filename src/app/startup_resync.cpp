#include "app/startup_resync.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/parse.hpp>
#include <vector>

#include "http/object_key_json.h"

namespace lmcache::app {
namespace json = boost::json;

StartupResync::StartupResync(const boost::asio::any_io_executor& executor, ResyncOptions options,
                             core::InstanceRegistry& registry, core::L2Accounting& l2,
                             client::MpClient& client)
    : timer_(boost::asio::make_strand(executor)),
      options_(options),
      registry_(registry),
      l2_(l2),
      client_(client) {
  if (options_.page_size > kMaxPageSize) {
    spdlog::info("resync: page size {} clamped to {}, the most an MP server accepts",
                 options_.page_size, kMaxPageSize);
    options_.page_size = kMaxPageSize;
  }
}

void StartupResync::start() {
  started_ = std::chrono::steady_clock::now();
  boost::asio::post(timer_.get_executor(), [self = shared_from_this()] { self->poll(); });
}

void StartupResync::stop() {
  boost::asio::post(timer_.get_executor(), [self = shared_from_this()] {
    self->stopped_ = true;
    self->timer_.cancel();
  });
}

void StartupResync::poll() {
  if (stopped_) return;
  auto instances = registry_.list();
  if (!instances.empty()) {
    source_ = instances.front();
    spdlog::info("resync: reading L2 keys from instance {} at {}:{}", source_->instance_id,
                 source_->ip, source_->http_port);
    fetch_page(std::nullopt);
    return;
  }
  if (std::chrono::steady_clock::now() - started_ >= options_.max_wait) {
    spdlog::info("resync: no MP server registered within {:.1f} s; skipped",
                 std::chrono::duration<double>(options_.max_wait).count());
    if (on_finish_) on_finish_("skipped");
    return;
  }
  timer_.expires_after(options_.poll_interval);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->poll();
  });
}

void StartupResync::fetch_page(const std::optional<std::string>& token) {
  if (stopped_) return;
  const client::MpEndpoint endpoint{source_->ip, source_->http_port};
  client_.get_keys_page(endpoint, options_.page_size, token,
                        [self = shared_from_this()](client::MpResponse response) {
                          // Back onto our own executor: stopped_ and the counters live there.
                          boost::asio::post(
                              self->timer_.get_executor(),
                              [self, response = std::move(response)] { self->on_page(response); });
                        });
}

void StartupResync::on_page(const client::MpResponse& response) {
  if (stopped_) return;
  if (!response.success()) {
    return finish(response.ok() ? "gave up: HTTP " + std::to_string(response.status)
                                : "gave up: " + response.error_text);
  }
  boost::system::error_code ec;
  const json::value page = json::parse(response.body, ec);
  const json::object* object = ec ? nullptr : page.if_object();
  const json::array* entries =
      object ? object->contains("entries") ? object->at("entries").if_array() : nullptr : nullptr;
  if (entries == nullptr) return finish("gave up: malformed page");

  std::vector<std::pair<core::ObjectKey, uint64_t>> parsed;
  parsed.reserve(entries->size());
  for (const json::value& entry : *entries) {
    const json::object* fields = entry.if_object();
    const json::value* key = fields ? fields->if_contains("key") : nullptr;
    const json::value* size = fields ? fields->if_contains("size_bytes") : nullptr;
    auto decoded = key ? http::decode_object_key(*key) : core::ObjectKeyResult{};
    if (!decoded.ok() || size == nullptr || !(size->is_uint64() || size->is_int64()) ||
        (size->is_int64() && size->get_int64() < 0)) {
      ++skipped_;
      continue;
    }
    const uint64_t bytes =
        size->is_uint64() ? size->get_uint64() : static_cast<uint64_t>(size->get_int64());
    parsed.emplace_back(std::move(*decoded.key), bytes);
  }
  l2_.apply_resync(parsed, source_->instance_id);
  keys_recorded_ += parsed.size();
  ++pages_;

  const json::value* next = object->if_contains("next_page_token");
  if (next == nullptr || next->is_null()) return finish("done");
  if (!next->is_string()) return finish("gave up: malformed next_page_token");
  fetch_page(std::string(next->get_string()));
}

void StartupResync::finish(const std::string& how) {
  spdlog::info("resync {}: {} keys recorded from {} pages of instance {}, {} entries skipped", how,
               keys_recorded_.load(), pages_, source_ ? source_->instance_id : "-", skipped_);
  if (on_finish_) on_finish_(how);
}

}  // namespace lmcache::app
