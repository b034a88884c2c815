#include "app/startup_resync.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

namespace lmcache::app {

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
                        [self = shared_from_this()](client::MpKeysPageResult result) {
                          // Back onto our own executor: stopped_ and the counters live there.
                          boost::asio::post(
                              self->timer_.get_executor(),
                              [self, result = std::move(result)] { self->on_page(result); });
                        });
}

void StartupResync::on_page(const client::MpKeysPageResult& result) {
  if (stopped_) return;
  if (!result.page) return finish("gave up: " + result.error);
  const wire::KeysPage& page = *result.page;
  skipped_ += page.skipped;
  l2_.apply_resync(page.entries, source_->instance_id);
  keys_recorded_ += page.entries.size();
  ++pages_;
  if (!page.next_page_token) return finish("done");
  fetch_page(page.next_page_token);
}

void StartupResync::finish(const std::string& how) {
  spdlog::info("resync {}: {} keys recorded from {} pages of instance {}, {} entries skipped", how,
               keys_recorded_.load(), pages_, source_ ? source_->instance_id : "-", skipped_);
  if (on_finish_) on_finish_(how);
}

}  // namespace lmcache::app
