#include "app/coordinator_app.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "app/core_state_metrics.h"
#include "app/event_ingest_metrics.h"
#include "app/eviction_loop.h"
#include "app/health_sweep.h"
#include "app/periodic_task.h"
#include "app/startup_resync.h"
#include "client/mp_client.h"
#include "core/blend_index.h"
#include "core/event_ingest.h"
#include "core/instance_registry.h"
#include "core/l2_accounting.h"
#include "core/pins.h"
#include "core/quota_store.h"
#include "core/token_chain_hasher.h"
#include "http/blend_routes.h"
#include "http/event_routes.h"
#include "http/http_server.h"
#include "http/l2_routes.h"
#include "http/membership_routes.h"
#include "http/metrics_routes.h"
#include "http/pin_routes.h"
#include "http/prefetch_routes.h"
#include "http/quota_routes.h"
#include "http/request_metrics.h"
#include "http/router.h"

namespace lmcache::app {
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

Clock::duration seconds(double value) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(value));
}

std::string url_host(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

prometheus::Counter& counter(prometheus::Registry& metrics, const std::string& name,
                             const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(metrics).Add({});
}

unsigned io_thread_count() { return std::clamp(std::thread::hardware_concurrency(), 1U, 4U); }

}  // namespace

struct CoordinatorApp::Impl {
  explicit Impl(CoordinatorConfig cfg)
      : config(std::move(cfg)),
        io(static_cast<int>(io_thread_count())),
        quotas(config.state_path, config.default_quota_bytes),
        pins(quotas),
        l2(eviction_config(config), &pins.keys()),
        blend(config.blend_chunk_size, config.blend_probe_stride),
        mp_client(io.get_executor()),
        health_sweep(registry, seconds(config.instance_timeout_s),
                     seconds(config.health_check_interval_s), metrics,
                     [this](const std::string& id) { events.on_instance_timed_out(id); }) {
    http::MembershipHooks hooks;
    hooks.on_registered = [this](const std::string& id) { l2.on_instance_registered(id); };
    hooks.on_deregistered = [this](const std::string& id) { events.on_instance_deregistered(id); };
    http::add_membership_routes(router, registry, hooks);
    http::add_l2_routes(router, l2, quotas);
    http::add_quota_routes(router, l2, quotas);
    http::add_event_routes(router, events);
    http::add_blend_routes(router, blend, [this](size_t matches) {
      blend_match_requests.Increment();
      blend_matches.Increment(static_cast<double>(matches));
    });
    http::add_prefetch_routes(router, registry, prefetch_forwarder());
    http::add_pin_routes(router, pins, chunk_hasher);
    if (!config.disable_metrics) {  // disabled: GET /metrics is an unknown path (404)
      http::add_metrics_route(router,
                              {&metrics, &core_state_metrics, &event_metrics, &request_metrics});
    }
    request_metrics.observe(router);

    http::HttpServerOptions options;
    options.host = config.host;
    options.port = config.port;
    options.keep_alive_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(seconds(config.timeout_keep_alive_s));
    // A body may pause three idle timeouts (30 s by default) before the
    // connection is dropped as dead.
    options.body_timeout = 3 * options.keep_alive_timeout;
    if (!config.tls_cert.empty()) {
      options.tls = http::TlsFiles{config.tls_cert, config.tls_key, config.tls_client_ca};
    }
    server.emplace(io, options, router);
    server->start();
    log_config_notices(config);
    if (const core::DefaultLimit limit = quotas.default_limit()) {
      spdlog::info("salts without a quota may keep {} bytes in L2", *limit);
    } else {
      spdlog::info("salts without a quota are exempt from eviction");
    }
  }

  // Adapts the outbound MP client to the prefetch routes.
  http::PrefetchForwarder prefetch_forwarder() {
    auto relay = [](http::PrefetchForwarder::Done done) {
      return [done = std::move(done)](client::MpResponse response) {
        done(http::ForwardedReply{response.ok(), response.error_text, response.status,
                                  std::move(response.body)});
      };
    };
    http::PrefetchForwarder forwarder;
    forwarder.submit = [this, relay](const core::InstanceRecord& instance, std::string body,
                                     http::PrefetchForwarder::Done done) {
      mp_client.submit_prefetch({instance.ip, instance.http_port}, std::move(body),
                                relay(std::move(done)));
    };
    forwarder.poll = [this, relay](const core::InstanceRecord& instance,
                                   const std::string& request_id,
                                   http::PrefetchForwarder::Done done) {
      mp_client.poll_prefetch({instance.ip, instance.http_port}, request_id,
                              relay(std::move(done)));
    };
    return forwarder;
  }

  void start_loops() {
    if (config.eviction_check_interval_s > 0) {
      eviction_task.emplace(io.get_executor(), seconds(config.eviction_check_interval_s),
                            [this](Clock::duration) { eviction.sweep(Clock::now()); });
      eviction_task->start();
    }
    if (config.enable_startup_resync) {
      ResyncOptions options;
      options.poll_interval = seconds(config.resync_poll_interval_s);
      options.max_wait = seconds(config.resync_max_wait_s);
      options.page_size = config.resync_page_size;
      resync = std::make_shared<StartupResync>(io.get_executor(), options, registry, l2, mp_client);
      resync->start();
    }
    if (config.health_check_interval_s > 0) {
      health_task.emplace(
          io.get_executor(), seconds(config.health_check_interval_s),
          [this](Clock::duration lateness) { health_sweep.run(Clock::now(), lateness); });
      health_task->start();
    }
  }

  // Stops accepting, lets in-flight requests finish briefly, then stops the loop.
  void begin_shutdown() {
    spdlog::info("shutting down");
    server->stop_accepting();
    if (health_task) health_task->stop();
    if (eviction_task) eviction_task->stop();
    if (resync) resync->stop();
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    auto timer = std::make_shared<net::steady_timer>(io);
    wait_for_drain(timer, deadline);
  }

  void wait_for_drain(const std::shared_ptr<net::steady_timer>& timer, Clock::time_point deadline) {
    if (server->requests_in_flight() == 0 || Clock::now() >= deadline) {
      io.stop();
      return;
    }
    timer->expires_after(std::chrono::milliseconds(20));
    timer->async_wait(
        [this, timer, deadline](boost::system::error_code) { wait_for_drain(timer, deadline); });
  }

  static core::EvictionConfig eviction_config(const CoordinatorConfig& config) {
    core::EvictionConfig eviction;
    eviction.eviction_ratio = config.eviction_ratio;
    eviction.trigger_watermark = config.trigger_watermark;
    eviction.retry_delay = core::EvictionConfig::retry_delay_for(config.eviction_check_interval_s);
    return eviction;
  }

  CoordinatorConfig config;
  net::io_context io;
  prometheus::Registry metrics;  // every metric the components own
  core::QuotaStore quotas;
  core::Pins pins;  // in the state file of `quotas`; never evicted by `l2`
  core::InstanceRegistry registry;
  core::L2Accounting l2;
  core::EventIngest events{l2};  // POST /events, feeding l2
  core::BlendIndex blend;
  core::TokenChainHasher chunk_hasher{config.blend_chunk_size};  // token_ids -> keys (pins)
  client::MpClient mp_client;
  HealthSweep health_sweep;
  prometheus::Counter& blend_match_requests =
      counter(metrics, "lmcache_coordinator_blend_match_requests_total",
              "CacheBlend match requests answered.");
  prometheus::Counter& blend_matches =
      counter(metrics, "lmcache_coordinator_blend_matches_total", "CacheBlend matches reported.");
  CoreStateMetrics core_state_metrics{registry, l2, quotas, blend, pins.keys()};
  EventIngestMetrics event_metrics{events};
  http::RequestMetrics request_metrics;
  http::Router router;
  std::optional<http::HttpServer> server;
  std::optional<PeriodicTask> health_task;
  EvictionLoop eviction{l2, quotas, registry, events, mp_client, metrics};
  std::optional<PeriodicTask> eviction_task;
  std::shared_ptr<StartupResync> resync;
};

CoordinatorApp::CoordinatorApp(CoordinatorConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}

CoordinatorApp::~CoordinatorApp() = default;

uint16_t CoordinatorApp::port() const { return impl_->server->port(); }

void CoordinatorApp::request_stop() {
  net::post(impl_->io, [&impl = *impl_] { impl.begin_shutdown(); });
}

int CoordinatorApp::run() {
  Impl& impl = *impl_;
  net::signal_set signals(impl.io, SIGINT, SIGTERM);
  signals.async_wait([&impl](boost::system::error_code ec, int) {
    if (!ec) impl.begin_shutdown();
  });
  // SIGHUP re-reads the TLS files (new connections use them; a bad file keeps the old ones).
  net::signal_set hangups(impl.io, SIGHUP);
  std::function<void()> await_hangup = [&] {
    hangups.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      impl.server->reload_tls();
      await_hangup();
    });
  };
  await_hangup();
  impl.start_loops();
  spdlog::info("MP coordinator listening on {}://{}:{}",
               impl.server->serves_tls() ? "https" : "http", url_host(impl.config.host),
               impl.server->port());

  std::vector<std::thread> threads;
  const unsigned count = io_thread_count();
  for (unsigned i = 1; i < count; ++i) threads.emplace_back([&impl] { impl.io.run(); });
  impl.io.run();
  for (auto& thread : threads) thread.join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace lmcache::app
