#include "app/coordinator_app.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "app/blend_feed_metrics.h"
#include "app/checkpoint_file.h"
#include "app/checkpointer.h"
#include "app/cluster_metrics.h"
#include "app/core_state_metrics.h"
#include "app/event_ingest_metrics.h"
#include "app/eviction_loop.h"
#include "app/fleet_summary_source.h"
#include "app/ha_mode.h"
#include "app/health_sweep.h"
#include "app/periodic_task.h"
#include "app/replication_follower.h"
#include "app/replication_log_metrics.h"
#include "app/replication_snapshots.h"
#include "app/startup_resync.h"
#include "client/batched_object_delete.h"
#include "client/mp_client.h"
#include "core/admin_token_file.h"
#include "core/admin_tokens.h"
#include "core/blend_feed.h"
#include "core/blend_index.h"
#include "core/cache_event_record.h"
#include "core/derived_state.h"
#include "core/event_ingest.h"
#include "core/instance_registry.h"
#include "core/l2_accounting.h"
#include "core/mutation_log.h"
#include "core/mutex.h"
#include "core/pins.h"
#include "core/quota_store.h"
#include "core/token_chain_hasher.h"
#include "http/access_policy.h"
#include "http/api_description_routes.h"
#include "http/blend_lookup_route.h"
#include "http/blend_routes.h"
#include "http/cache_delete_route.h"
#include "http/cluster_routes.h"
#include "http/directory_routes.h"
#include "http/event_routes.h"
#include "http/fleet_routes.h"
#include "http/http_server.h"
#include "http/instance_usage_routes.h"
#include "http/l2_routes.h"
#include "http/membership_routes.h"
#include "http/metrics_routes.h"
#include "http/pin_routes.h"
#include "http/prefetch_routes.h"
#include "http/quota_routes.h"
#include "http/replication_routes.h"
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

// The checkpoint passed its checks but did not load: the state is partial and must be rebuilt.
struct CheckpointRejected : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CoordinatorApp::Impl {
  Impl(CoordinatorConfig cfg, bool load_checkpoint)
      : config(std::move(cfg)),
        io(static_cast<int>(io_thread_count())),
        // HA mode keeps quotas in etcd; the local store is a copy of them.
        quotas(config.ha() ? std::string(core::QuotaStore::kInMemory) : config.state_path,
               config.default_quota_bytes),
        pins(quotas),
        l2(eviction_config(config), &pins.keys()),
        blend(config.blend_chunk_size, config.blend_probe_stride),
        mp_client(io.get_executor()),
        health_sweep(registry, seconds(config.instance_timeout_s),
                     seconds(config.health_check_interval_s), metrics,
                     [this](const std::string& id) {
                       events.on_instance_timed_out(id);
                       mutation_log.append(core::MutationKind::kInstanceTimedOut, id);
                     }) {
    if (!config.checkpoint_path.empty()) {
      if (load_checkpoint) warm_start();
      checkpointer.emplace(config.checkpoint_path, derived_state(), metrics);
    }
    // HA leader: each admitted /events batch joins the log as its record, in admission order.
    // Without HA no batch pays for the observer.
    if (config.ha()) {
      events.set_admitted_observer([this](const core::CacheEventBatch& batch) {
        if (!mutation_log.active()) return;
        std::string record;
        record.reserve(128 + batch.entries.size() * 80);
        core::append_cache_event_record(record, batch);
        mutation_log.append(core::MutationKind::kCacheEventRecord, std::move(record));
      });
    }
    http::MembershipHooks hooks;
    hooks.on_registered = [this](const std::string& id) {
      l2.on_instance_registered(id);
      mutation_log.append(core::MutationKind::kInstanceRegistered, id);
    };
    hooks.on_deregistered = [this](const std::string& id) {
      events.on_instance_deregistered(id);
      mutation_log.append(core::MutationKind::kInstanceDeregistered, id);
    };
    http::add_membership_routes(router, registry, hooks);
    http::add_l2_routes(router, l2, quotas);
    http::add_quota_routes(router, l2, quotas);
    http::add_event_routes(router, events);
    http::add_blend_routes(router, blend, [this](size_t matches) {
      blend_match_requests.Increment();
      blend_matches.Increment(static_cast<double>(matches));
      fleet_summary.record_blend_match(matches);
    });
    http::add_prefetch_routes(router, registry, prefetch_forwarder(false));
    http::add_pin_routes(router, pins, chunk_hasher);
    http::add_api_description_routes(router);
    add_cache_control_routes();
    http::add_directory_routes(router, l2, blend, chunk_hasher);
    http::add_instance_usage_routes(router, registry, l2, events);
    http::add_cluster_routes(router, [this] { return cluster_status(); });
    http::add_replication_routes(router, io.get_executor(), mutation_log);
    snapshots.emplace(io.get_executor(), derived_state(), mutation_log, snapshot_path(config));
    http::add_snapshot_route(router, snapshots->provider());
    if (!config.disable_metrics) {  // disabled: GET /metrics is an unknown path (404)
      http::add_metrics_route(router,
                              {&metrics, &core_state_metrics, &event_metrics, &request_metrics,
                               &blend_feed_metrics, &cluster_metrics, &replication_log_metrics});
    }
    fleet_summary.set_ha_status([this]() -> std::optional<http::FleetHa> {
      if (!ha) return std::nullopt;
      const http::ClusterStatus status = cluster_status();
      return http::FleetHa{status.role, status.leader_url.value_or("")};
    });
    http::add_fleet_routes(router, http::fleet_page_html(),
                           [this] { return fleet_summary.collect(Clock::now()); });
    request_metrics.observe(router);
    http::AccessPolicyOptions access = access_policy_options();
    if (access.tokens != nullptr || access.fleet_networks) {  // else no guard: nothing to check
      access_policy.emplace(std::move(access));
      access_policy->guard(router);
    }

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
    if (config.ha()) {  // before run(): no request is dispatched yet
      ha.emplace(io.get_executor(), config, server->port(), quotas, pins,
                 HaMode::Duties{[this] { start_leader_duties(); }, [this] { stop_leader_duties(); },
                                [this](int64_t epoch, std::function<void()> done) {
                                  hold_follower(epoch, std::move(done));
                                }});
      router.set_front([this](http::HttpRequest& request, http::Respond& respond) {
        if (ha->front(request, respond)) return true;
        log_if_accepted(request, respond);
        return false;
      });
      start_follower();
      mp_client.set_dispatch_gate([this] { return ha->dispatch_epoch(); });
    }
    log_config_notices(config);
    if (const core::DefaultLimit limit = quotas.default_limit()) {
      spdlog::info("salts without a quota may keep {} bytes in L2", *limit);
    } else {
      spdlog::info("salts without a quota are exempt from eviction");
    }
  }

  // What a checkpoint holds.
  // Copies of one DerivedState share its rebuild lock (a checkpoint never sees half a rebuild).
  core::DerivedState derived_state() { return derived; }

  // HA leader: once `request` is accepted (2xx), its body joins the mutation log when it changes
  // the soft state followers mirror. One copy of the body; no parsing.
  void log_if_accepted(const http::HttpRequest& request, http::Respond& respond) {
    if (!mutation_log.active()) return;
    const std::string_view target = request.target();
    const auto kind = http::logged_mutation(request.method(), target.substr(0, target.find('?')));
    if (!kind) return;
    respond = [this, kind = *kind, body = request.body(),
               respond = std::move(respond)](http::HttpResponse response) mutable {
      if (response.result_int() / 100 == 2) mutation_log.append(kind, std::move(body));
      respond(std::move(response));
    };
  }

  // HA follower: replays the leader's log through `replay_router` (the same routes, without
  // access control or forwarding) and the membership hooks.
  void start_follower() {
    http::add_event_routes(replay_router, events);
    http::add_l2_routes(replay_router, l2, quotas);
    http::add_blend_routes(replay_router, blend, [](size_t) {});
    auto leader = [this]() -> std::optional<ReplicationFollower::Leader> {
      const http::ClusterStatus status = ha->status();
      if (status.role != "follower" || !status.leader_url) return std::nullopt;
      return ReplicationFollower::Leader{*status.leader_url, status.epoch};
    };
    auto apply = [this](core::Mutation& mutation) {
      using Kind = core::MutationKind;
      switch (mutation.kind) {
        case Kind::kInstanceRegistered:
          return l2.on_instance_registered(mutation.payload);
        case Kind::kInstanceDeregistered:
          return events.on_instance_deregistered(mutation.payload);
        case Kind::kInstanceTimedOut:
          return events.on_instance_timed_out(mutation.payload);
        case Kind::kCacheEventRecord: {
          const bool read = core::read_cache_event_record(
              mutation.payload,
              [this](const core::CacheEventBatch& batch) { events.ingest(batch); });
          if (!read) spdlog::warn("replication: entry {} is no cache-event record", mutation.seq);
          return;
        }
        default:
          break;
      }
      std::optional<http::HttpRequest> request =
          http::replay_request(mutation.kind, std::move(mutation.payload));
      if (!request) return;
      replay_router.dispatch(std::move(*request), [seq = mutation.seq](
                                                      const http::HttpResponse& answer) {
        if (answer.result_int() / 100 != 2) {
          spdlog::warn("replication: entry {} replayed with status {}", seq, answer.result_int());
        }
      });
    };
    ReplicationFollower::Snapshots from_snapshots;
    from_snapshots.start_with_one = !warm_loaded;  // an empty state starts from a snapshot
    from_snapshots.load = [this](std::string_view body) { return rebuild_state(body); };
    from_snapshots.download_path = snapshot_path(config) + ".download";
    follower = std::make_shared<ReplicationFollower>(
        io.get_executor(), std::move(leader), std::move(apply), std::move(from_snapshots), metrics);
  }

  // HA: this node won `epoch`. The follower applies nothing more (the view it follows still
  // names the old leader until this node serves), then the mutation log opens the epoch.
  void hold_follower(int64_t epoch, std::function<void()> done) {
    auto open = [this, epoch, done = std::move(done)] {
      mutation_log.begin_epoch(epoch);
      done();
    };
    if (!follower) return open();
    follower->hold(epoch, std::move(open));
  }

  // Loads the derived state from the checkpoint, if one is there and sound. A missing or
  // corrupt file means a cold start (logged); a sound file that does not load throws
  // CheckpointRejected, so the caller starts again without it.
  void warm_start() {
    const Clock::time_point before = Clock::now();
    std::string error;
    bool missing = false;
    const auto loaded = CheckpointFile::load(config.checkpoint_path, error, missing);
    if (!loaded) {
      if (missing) {
        spdlog::info("no checkpoint at {} yet: starting cold", config.checkpoint_path);
      } else {
        spdlog::error("checkpoint not loaded, starting cold: {}", error);
      }
      return;
    }
    if (!load_state(loaded->body())) {
      throw CheckpointRejected(config.checkpoint_path +
                               " passed its checks but its state does not load");
    }
    warm_loaded = true;
    spdlog::info("warm start from {}: {} L2 keys, {} event cursors, {} blend entries, {:.3f} s",
                 config.checkpoint_path, l2.counters().tracked_keys, events.gate().cursor_count(),
                 blend.entry_count(), std::chrono::duration<double>(Clock::now() - before).count());
  }

  // Loads a checkpoint body into the fresh derived state of a warm start. False when it does not
  // load whole; the state may then be partial.
  bool load_state(std::string_view body) {
    core::SnapshotReader reader(body);
    return derived_state().load(reader) && reader.at_end();
  }

  // Replaces the derived state with an HA follower's snapshot of the leader (its first, or after
  // a gap; see ReplicationFollower), on the follower's strand. False when it does not load
  // whole; the state may then be partial (the follower logs it).
  bool rebuild_state(std::string_view body) {
    core::SnapshotReader reader(body);
    return derived_state().rebuild(reader) && reader.at_end();
  }

  // Where the HA leader writes snapshots for followers: beside the checkpoint, else in $TMPDIR.
  static std::string snapshot_path(const CoordinatorConfig& config) {
    if (!config.checkpoint_path.empty()) return config.checkpoint_path + ".replication";
    std::error_code ec;
    std::filesystem::path folder = std::filesystem::temp_directory_path(ec);
    if (ec) folder = "/tmp";
    return (folder / ("lmcache-coordinator-" + std::to_string(::getpid()) + ".replication"))
        .string();
  }

  // Loads the operator tokens and the fleet networks (both validated by the config parser).
  http::AccessPolicyOptions access_policy_options() {
    http::AccessPolicyOptions options;
    if (!config.admin_token_file.empty()) {
      core::AdminTokenFile file = core::read_admin_token_file(config.admin_token_file);
      if (!file.error.empty()) throw std::runtime_error(file.error);
      admin_tokens.emplace(file.tokens);
      options.tokens = &*admin_tokens;
      options.protect_reads = config.protect_reads;
      spdlog::info("operator routes{} need a bearer token: {} token(s) from '{}'",
                   config.protect_reads ? " and tenant reads" : "", admin_tokens->size(),
                   config.admin_token_file);
    }
    if (!config.fleet_cidr.empty()) {
      std::string error;
      options.fleet_networks = http::FleetNetworks::parse(config.fleet_cidr, error);
      if (!options.fleet_networks) throw std::runtime_error("--fleet-cidr: " + error);
      spdlog::info("fleet routes answer only {}", options.fleet_networks->to_string());
    }
    return options;
  }

  // SIGHUP: re-reads the TLS files (new connections use them; a bad file keeps the old ones)
  // and the admin token file.
  void reload() {
    if (server->serves_tls()) server->reload_tls();
    if (!admin_tokens) {
      if (!server->serves_tls()) spdlog::info("SIGHUP: nothing to reload (no TLS, no tokens)");
      return;
    }
    core::AdminTokenFile file = core::read_admin_token_file(config.admin_token_file);
    if (!file.error.empty()) {
      spdlog::error("SIGHUP: {}; keeping the {} token(s) loaded before", file.error,
                    admin_tokens->size());
      return;
    }
    admin_tokens->replace(file.tokens);
    spdlog::info("SIGHUP: reloaded {} admin token(s) from '{}'", file.tokens.size(),
                 config.admin_token_file);
  }

  void wait_for_hangup(net::signal_set& hangup) {
    hangup.async_wait([this, &hangup](boost::system::error_code ec, int) {
      if (ec) return;
      reload();
      wait_for_hangup(hangup);
    });
  }

  // Adapts the outbound MP client to the prefetch routes of one dialect: POST /l2/prefetch and
  // GET /l2/prefetch/{id}, or (v2) POST /cache/prefetches and GET /cache/prefetches/{id}.
  http::PrefetchForwarder prefetch_forwarder(bool v2) {
    auto relay = [](http::PrefetchForwarder::Done done) {
      return [done = std::move(done)](client::MpResponse response) {
        done(http::ForwardedReply{response.ok(), response.error_text, response.status,
                                  std::move(response.body)});
      };
    };
    http::PrefetchForwarder forwarder;
    forwarder.submit = [this, relay, v2](const core::InstanceRecord& instance, std::string body,
                                         http::PrefetchForwarder::Done done) {
      const client::MpEndpoint to{instance.ip, instance.http_port};
      if (v2) {
        mp_client.submit_cache_prefetch(to, std::move(body), relay(std::move(done)));
      } else {
        mp_client.submit_prefetch(to, std::move(body), relay(std::move(done)));
      }
    };
    forwarder.poll = [this, relay, v2](const core::InstanceRecord& instance,
                                       const std::string& request_id,
                                       http::PrefetchForwarder::Done done) {
      const client::MpEndpoint to{instance.ip, instance.http_port};
      if (v2) {
        mp_client.poll_cache_prefetch(to, request_id, relay(std::move(done)));
      } else {
        mp_client.poll_prefetch(to, request_id, relay(std::move(done)));
      }
    };
    return forwarder;
  }

  // The v2 cache control routes (/cache/prefetches, /cache/delete) and the blend lookup fed by
  // POST /events, with their metrics.
  void add_cache_control_routes() {
    events.set_blend_feed(&blend_feed);
    http::add_blend_lookup_route(router, blend, [this](size_t matches) {
      blend_lookup_requests.Increment();
      blend_lookup_matches.Increment(static_cast<double>(matches));
    });
    auto& prefetches = prometheus::BuildCounter()
                           .Name("lmcache_coordinator_cache_prefetch_requests_total")
                           .Help(
                               "POST /cache/prefetches forwarded, by outcome: submitted, noop "
                               "(nothing to load), failed (answered 502).")
                           .Register(metrics);
    http::add_cache_prefetch_routes(
        router, registry, prefetch_forwarder(true), [&prefetches](std::string_view outcome) {
          prefetches.Add({{"outcome", std::string(outcome)}}).Increment();
        });
    auto& deletes = prometheus::BuildCounter()
                        .Name("lmcache_coordinator_cache_delete_requests_total")
                        .Help(
                            "POST /cache/delete requests, by outcome: deleted, noop (nothing "
                            "to send), failed (answered 502).")
                        .Register(metrics);
    auto& delete_keys = prometheus::BuildCounter()
                            .Name("lmcache_coordinator_cache_delete_keys_total")
                            .Help(
                                "Keys of POST /cache/delete: deleted and skipped by the node, "
                                "skipped_pinned (pinned, not forced).")
                            .Register(metrics);
    http::ObjectDeleter deleter =
        [this](const core::InstanceRecord& instance, std::vector<core::ObjectKey> keys,
               std::string tier, bool force, std::function<void(http::ObjectDeleteReply)> done) {
          client::delete_objects_in_batches(
              mp_client, {instance.ip, instance.http_port}, std::move(keys), std::move(tier), force,
              [done = std::move(done)](client::BatchedDeleteResult result) {
                done(http::ObjectDeleteReply{result.ok(), std::move(result.error), result.deleted,
                                             result.skipped});
              });
        };
    http::add_cache_delete_route(
        router, registry, pins, chunk_hasher, std::move(deleter),
        [&deletes, &delete_keys](const http::CacheDeleteStats& stats) {
          deletes.Add({{"outcome", std::string(stats.outcome)}}).Increment();
          delete_keys.Add({{"result", "deleted"}}).Increment(static_cast<double>(stats.deleted));
          delete_keys.Add({{"result", "skipped"}})
              .Increment(static_cast<double>(stats.node_skipped));
          delete_keys.Add({{"result", "skipped_pinned"}})
              .Increment(static_cast<double>(stats.pinned_skipped));
        });
  }

  // Single mode: the one node always leads.
  http::ClusterStatus cluster_status() const {
    if (ha) return ha->status();
    http::ClusterStatus status;
    status.role = "leader";
    status.node_id = "single";
    status.node_url = "http://" + url_host(config.host) + ":" + std::to_string(server->port());
    return status;
  }

  // The health sweep, eviction loop and startup resync: run by the leader only.
  void start_leader_duties() EXCLUDES(duties_mutex) {
    core::MutexLock lock(duties_mutex);
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

  // Checkpoints of the derived state, on every node (a follower's state is its own).
  void start_checkpoints() {
    if (checkpointer && config.checkpoint_interval_s > 0) {
      // Polls often to reap a finished writer soon; starts one when the interval has passed.
      const Clock::duration interval = seconds(config.checkpoint_interval_s);
      checkpoint_task.emplace(
          io.get_executor(), std::min<Clock::duration>(interval, std::chrono::milliseconds(250)),
          [this, interval, due = Clock::now() + interval](Clock::duration) mutable {
            if (checkpointer->poll() || Clock::now() < due) return;
            checkpointer->start();
            due = Clock::now() + interval;
          });
      checkpoint_task->start();
    }
  }

  void stop_leader_duties() EXCLUDES(duties_mutex) {
    mutation_log.end_epoch();
    core::MutexLock lock(duties_mutex);
    health_task.reset();  // stops it
    eviction_task.reset();
    if (resync) resync->stop();
    resync.reset();
  }

  // Stops accepting, lets in-flight requests finish briefly, then stops the loop.
  void begin_shutdown() {
    spdlog::info("shutting down");
    server->stop_accepting();
    stop_leader_duties();
    if (follower) follower->stop();
    if (ha) ha->stop();
    if (checkpoint_task) checkpoint_task->stop();
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    auto timer = std::make_shared<net::steady_timer>(io);
    wait_for_drain(timer, deadline);
  }

  void wait_for_drain(const std::shared_ptr<net::steady_timer>& timer, Clock::time_point deadline) {
    const bool resigned = !ha || ha->stopped();
    if ((server->requests_in_flight() == 0 && resigned) || Clock::now() >= deadline) {
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
  // HA leader: its accepted soft-state mutations, for followers (inactive otherwise).
  core::MutationLog mutation_log{static_cast<size_t>(config.replication_log_mb) << 20};
  core::L2Accounting l2;
  core::EventIngest events{l2};  // POST /events, feeding l2
  core::BlendIndex blend;
  core::BlendFeed blend_feed{blend};  // POST /events -> blend (events.set_blend_feed)
  core::DerivedState derived{events, blend, blend_feed};  // copied by derived_state()
  // token_ids -> keys (pins, lookup, delete, prefetch), with its cache of recent links
  core::TokenChainHasher chunk_hasher{config.blend_chunk_size,
                                      static_cast<size_t>(config.token_chain_cache_mb) << 20};
  client::MpClient mp_client;
  HealthSweep health_sweep;
  prometheus::Counter& blend_match_requests =
      counter(metrics, "lmcache_coordinator_blend_match_requests_total",
              "CacheBlend match requests answered.");
  prometheus::Counter& blend_matches =
      counter(metrics, "lmcache_coordinator_blend_matches_total", "CacheBlend matches reported.");
  prometheus::Counter& blend_lookup_requests =
      counter(metrics, "lmcache_coordinator_blend_lookup_requests_total",
              "POST /directory/blend-lookup requests answered.");
  prometheus::Counter& blend_lookup_matches =
      counter(metrics, "lmcache_coordinator_blend_lookup_matches_total",
              "POST /directory/blend-lookup matches reported.");
  BlendFeedMetrics blend_feed_metrics{blend_feed};
  CoreStateMetrics core_state_metrics{registry, l2, quotas, blend, pins.keys(), chunk_hasher};
  EventIngestMetrics event_metrics{events};
  http::RequestMetrics request_metrics;
  http::Router router;
  std::optional<core::AdminTokens> admin_tokens;    // set with --admin-token-file
  std::optional<http::AccessPolicy> access_policy;  // the router's guard
  std::optional<http::HttpServer> server;
  core::Mutex duties_mutex;  // start and stop of the leader-only work
  std::optional<PeriodicTask> health_task GUARDED_BY(duties_mutex);
  EvictionLoop eviction{l2, quotas, registry, events, mp_client, metrics};
  std::optional<PeriodicTask> eviction_task GUARDED_BY(duties_mutex);
  std::shared_ptr<StartupResync> resync GUARDED_BY(duties_mutex);
  std::optional<HaMode> ha;                       // set in HA mode (--etcd-endpoints)
  http::Router replay_router;                     // HA follower: the routes the log replays
  std::shared_ptr<ReplicationFollower> follower;  // set in HA mode
  ClusterMetrics cluster_metrics{[this] { return cluster_status(); }};
  ReplicationLogMetrics replication_log_metrics{mutation_log};
  FleetSummarySource fleet_summary{
      registry, l2, quotas, events, blend, &eviction, seconds(config.instance_timeout_s)};
  std::optional<Checkpointer> checkpointer;       // with --checkpoint-path
  bool warm_loaded = false;                       // the state came from the checkpoint
  std::optional<ReplicationSnapshots> snapshots;  // GET /cluster/snapshot (HA leader)
  std::optional<PeriodicTask> checkpoint_task;
};

CoordinatorApp::CoordinatorApp(CoordinatorConfig config) {
  try {
    impl_ = std::make_unique<Impl>(config, true);
  } catch (const CheckpointRejected& e) {
    spdlog::error("{}: starting cold", e.what());
    impl_ = std::make_unique<Impl>(std::move(config), false);
  }
}

CoordinatorApp::~CoordinatorApp() = default;

uint16_t CoordinatorApp::port() const { return impl_->server->port(); }

std::vector<http::Router::RouteInfo> CoordinatorApp::routes() const {
  return impl_->router.routes();
}

void CoordinatorApp::request_stop() {
  net::post(impl_->io, [&impl = *impl_] { impl.begin_shutdown(); });
}

int CoordinatorApp::run() {
  Impl& impl = *impl_;
  net::signal_set signals(impl.io, SIGINT, SIGTERM);
  signals.async_wait([&impl](boost::system::error_code ec, int) {
    if (!ec) impl.begin_shutdown();
  });
  net::signal_set hangup(impl.io, SIGHUP);
  impl.wait_for_hangup(hangup);
  impl.start_checkpoints();
  if (impl.ha) {
    impl.ha->start();  // the leader-only work starts when this node is elected
    impl.follower->start();
  } else {
    impl.start_leader_duties();
  }
  spdlog::info("MP coordinator listening on {}://{}:{}",
               impl.server->serves_tls() ? "https" : "http", url_host(impl.config.host),
               impl.server->port());

  std::vector<std::thread> threads;
  const unsigned count = io_thread_count();
  for (unsigned i = 1; i < count; ++i) threads.emplace_back([&impl] { impl.io.run(); });
  impl.io.run();
  for (auto& thread : threads) thread.join();
  // Nothing changes the state any more: the last checkpoint is written in this process.
  if (impl.checkpointer) impl.checkpointer->write_now();
  spdlog::info("stopped");
  return 0;
}

}  // namespace lmcache::app
