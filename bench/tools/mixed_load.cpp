// Mixed load on a coordinator at 127.0.0.1:PORT: heartbeats from 1,000
// instances while POST /l2/events runs at a paced rate and every eviction
// sweep plans victims from KEYS preloaded keys. bench/mixed_load.sh runs it.
//
// 1. Serves a local stand-in MP server (127.0.0.1, ephemeral port) that
//    answers 200 `{}` to anything (an empty page to GET /l2/keys) and counts
//    DELETE /l2 requests and keys.
// 2. Registers instances mixed-0..mixed-999 pointing at it.
// 3. Preloads KEYS distinct keys as `store` events, 256 per batch, under a
//    quota far above their usage, so no sweep dispatches while loading.
// 4. Lowers the quotas of the 4 salts below their usage: from now on every
//    sweep plans victims (eviction ratio of the coordinator) from those keys.
// 5. For SECONDS, concurrently: event senders paced to EVENTS_PER_SEC
//    (batches of 256: re-stores and lookups of random preloaded keys plus
//    stores of new keys), and heartbeat clients paced to HEARTBEATS_PER_SEC
//    in total, round-robin over the instances, timing every heartbeat from
//    its write to the end of its answer.
// 6. Reports rates, heartbeat latency percentiles, sweeps and victims over
//    the window (from GET /metrics before and after) and what the stand-in
//    MP server received. Exits 1 if any request failed or was not 2xx, or an
//    event batch came back as a duplicate or with rejections.
//
// Usage: mixed_load PORT [SECONDS=20] [KEYS=10000000] [EVENTS_PER_SEC=1000000]
//                        [HEARTBEATS_PER_SEC=2000]
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kInstances = 1000;
constexpr uint64_t kSalts = 4;  // tenant-0..tenant-3; at most 10 (one digit)
constexpr uint64_t kBatch = 256;
constexpr uint64_t kNewKeysPerBatch = 16;  // in the window: the rest re-store or look up
constexpr uint64_t kStorePercent = 70;     // of the events on preloaded keys
constexpr int kPreloadConnections = 4;
constexpr int kEventConnections = 4;
constexpr int kHeartbeatConnections = 4;
constexpr double kPreloadQuotaGb = 1e6;  // 1 PiB: far above any usage here
constexpr double kWindowQuotaGb = 1;     // far below the usage of KEYS / 4 keys of 2 MiB
constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr uint64_t kMaxMpBody = uint64_t{64} << 20;  // a DELETE of 10,000 keys is ~1.5 MB

// What went wrong, over all phases and threads.
struct Failures {
  std::atomic<uint64_t> failed{0};      // no answer: connect, write, read or timeout
  std::atomic<uint64_t> non_2xx{0};     // answered, but not 2xx
  std::atomic<uint64_t> duplicate{0};   // event batches acknowledged as replays
  std::atomic<uint64_t> rejections{0};  // event batches with rejected events

  uint64_t total() const {
    return failed.load() + non_2xx.load() + duplicate.load() + rejections.load();
  }
};

// A keep-alive HTTP/1.1 client connection to 127.0.0.1:port, for one thread.
// Every exchange runs on the connection's own io_context with a timeout; a
// failed exchange closes the connection and the next one reopens it.
class Connection {
 public:
  explicit Connection(unsigned short port) : port_(port) {}

  // Sends `request` and reads the answer; its status, or 0 when the exchange
  // failed. The body of the answer is in body() until the next exchange.
  unsigned exchange(http::request<http::string_body>& request) {
    if (!stream_ && !open()) return 0;
    beast::error_code error;
    response_ = {};
    stream_->expires_after(kRequestTimeout);
    http::async_write(*stream_, request, [this, &error](beast::error_code ec, size_t) {
      if (ec) {
        error = ec;
        return;
      }
      http::async_read(*stream_, buffer_, response_,
                       [&error](beast::error_code read_ec, size_t) { error = read_ec; });
    });
    run();
    if (error) {
      close();
      return 0;
    }
    if (!response_.keep_alive()) close();
    return response_.result_int();
  }

  const std::string& body() const { return response_.body(); }

 private:
  bool open() {
    stream_.emplace(io_);
    beast::error_code error;
    stream_->expires_after(kRequestTimeout);
    stream_->async_connect(tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), port_),
                           [&error](beast::error_code ec) { error = ec; });
    run();
    if (error) {
      stream_.reset();
      return false;
    }
    stream_->socket().set_option(tcp::no_delay(true));
    return true;
  }
  void close() {
    stream_.reset();
    buffer_.clear();
  }
  void run() {
    io_.restart();
    io_.run();
  }

  unsigned short port_;
  net::io_context io_{1};
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  http::response<http::string_body> response_;
};

// Sends one request; counts a failure or a non-2xx answer. True on 2xx.
bool send_checked(Connection& connection, http::request<http::string_body>& request,
                  Failures& failures) {
  const unsigned status = connection.exchange(request);
  if (status == 0) {
    ++failures.failed;
    return false;
  }
  if (status / 100 != 2) {
    ++failures.non_2xx;
    std::fprintf(stderr, "%s %s: HTTP %u %s\n", std::string(request.method_string()).c_str(),
                 std::string(request.target()).c_str(), status, connection.body().c_str());
    return false;
  }
  return true;
}

http::request<http::string_body> make_request(http::verb verb, std::string_view target,
                                              std::string body = {}) {
  http::request<http::string_body> request{verb, target, 11};
  request.set(http::field::host, "127.0.0.1");
  if (!body.empty()) request.set(http::field::content_type, "application/json");
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

// The stand-in MP server: answers 200 `{}` to every request (an empty page to
// GET /l2/keys, should the coordinator resync from it) and counts the
// DELETE /l2 requests and the keys in them.
class MpServer {
 public:
  MpServer() : acceptor_(io_, {net::ip::make_address_v4("127.0.0.1"), 0}) {
    accept();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~MpServer() {
    io_.stop();
    for (auto& thread : threads_) thread.join();
  }
  MpServer(const MpServer&) = delete;
  MpServer& operator=(const MpServer&) = delete;

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  uint64_t deletes() const { return counts_.deletes.load(); }
  uint64_t deleted_keys() const { return counts_.keys.load(); }
  uint64_t other_requests() const { return counts_.others.load(); }

 private:
  struct Counts {
    std::atomic<uint64_t> deletes{0};
    std::atomic<uint64_t> keys{0};
    std::atomic<uint64_t> others{0};
  };

  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(tcp::socket socket, Counts& counts) : stream_(std::move(socket)), counts_(counts) {}
    void read() {
      parser_.emplace();
      parser_->body_limit(kMaxMpBody);
      http::async_read(stream_, buffer_, *parser_,
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         if (!ec) self->respond();
                       });
    }

   private:
    void respond() {
      const auto& request = parser_->get();
      response_ = {http::status::ok, 11};
      response_.set(http::field::content_type, "application/json");
      if (request.method() == http::verb::delete_) {
        ++counts_.deletes;
        counts_.keys += count_keys(request.body());
        response_.body() = "{}";
      } else {
        ++counts_.others;
        response_.body() = request.target().starts_with("/l2/keys")
                               ? R"({"entries":[],"next_page_token":null})"
                               : "{}";
      }
      response_.keep_alive(request.keep_alive());
      response_.prepare_payload();
      http::async_write(stream_, response_,
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (!ec && self->response_.keep_alive()) self->read();
                        });
    }
    static uint64_t count_keys(std::string_view body) {
      uint64_t n = 0;
      for (size_t at = body.find("chunk_hash_hex"); at != std::string_view::npos;
           at = body.find("chunk_hash_hex", at + 1)) {
        ++n;
      }
      return n;
    }

    beast::tcp_stream stream_;
    Counts& counts_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    http::response<http::string_body> response_;
  };

  void accept() {
    acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket s) {
      if (ec) return;
      s.set_option(tcp::no_delay(true));
      std::make_shared<Session>(std::move(s), counts_)->read();
      accept();
    });
  }

  net::io_context io_{2};
  tcp::acceptor acceptor_;
  Counts counts_;
  std::vector<std::thread> threads_;
};

// splitmix64: the hash bytes of keys, and the random numbers of the senders.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t below(uint64_t n) { return mix(state_++) % n; }

 private:
  uint64_t state_;
};

void append_number(std::string& out, uint64_t value) {
  std::array<char, 24> digits{};
  const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), value).ptr;
  out.append(digits.data(), end);
}

// Appends the JSON of an event on key k of the key space: 32 hash bytes that
// are a fixed function of k, model "m", salt tenant-(k mod 4), 2 MiB and up.
void append_event(std::string& out, uint64_t k, bool store) {
  static constexpr std::string_view kHex = "0123456789abcdef";
  out += store ? R"({"type":"store","key":{"chunk_hash_hex":")"
               : R"({"type":"lookup","key":{"chunk_hash_hex":")";
  for (uint64_t part = 0; part < 4; ++part) {
    uint64_t word = mix(k * 4 + part);
    for (int nibble = 0; nibble < 16; ++nibble, word >>= 4) out += kHex[word & 15];
  }
  out += R"(","model_name":"m","kv_rank":0,"object_group_id":0,"cache_salt":"tenant-)";
  out += static_cast<char>('0' + k % kSalts);
  out += "\"}";
  if (store) {
    out += R"(,"bytes":)";
    append_number(out, 2097152 + (k % 64) * 4096);
  }
  out += '}';
}

std::string instance_id(int i) { return "mixed-" + std::to_string(i); }

// Event batches of the instances one sender owns: instance i belongs to
// sender i mod senders, so every instance's seq reaches the coordinator in
// order over one connection. next_seq is shared by the phases, which run one
// after the other.
class BatchWriter {
 public:
  BatchWriter(int sender, int senders, std::vector<uint64_t>& next_seq)
      : sender_(sender), senders_(senders), next_seq_(next_seq) {}

  // Starts the body of the next batch in out, on the sender's next instance.
  void begin(std::string& out) {
    const int instance = sender_ + senders_ * turn_;
    turn_ = instance + senders_ < kInstances ? turn_ + 1 : 0;
    out.clear();
    out += R"({"instance_id":"mixed-)";
    append_number(out, static_cast<uint64_t>(instance));
    out += R"(","seq":)";
    append_number(out, ++next_seq_[static_cast<size_t>(instance)]);
    out += R"(,"events":[)";
  }
  static void end(std::string& out) { out += "]}"; }

 private:
  int sender_;
  int senders_;
  int turn_ = 0;
  std::vector<uint64_t>& next_seq_;
};

// Sends an event batch already in request.body(); counts its failures.
bool send_batch(Connection& connection, http::request<http::string_body>& request,
                Failures& failures) {
  request.prepare_payload();
  if (!send_checked(connection, request, failures)) return false;
  const std::string& answer = connection.body();
  if (answer.find("\"duplicate\"") != std::string::npos) ++failures.duplicate;
  if (answer.find("\"rejected\"") != std::string::npos) ++failures.rejections;
  return true;
}

void register_instances(unsigned short coordinator, unsigned short mp_port, Failures& failures) {
  Connection connection(coordinator);
  for (int i = 0; i < kInstances; ++i) {
    auto request =
        make_request(http::verb::post, "/instances",
                     R"({"instance_id":")" + instance_id(i) + R"(","ip":"127.0.0.1","http_port":)" +
                         std::to_string(mp_port) + "}");
    if (!send_checked(connection, request, failures)) return;  // stop at the first failure
  }
}

void set_quotas(unsigned short coordinator, double limit_gb, Failures& failures) {
  Connection connection(coordinator);
  for (uint64_t salt = 0; salt < kSalts; ++salt) {
    auto request = make_request(http::verb::put, "/l2/quota/tenant-" + std::to_string(salt),
                                R"({"limit_gb":)" + std::to_string(limit_gb) + "}");
    if (!send_checked(connection, request, failures)) return;  // stop at the first failure
  }
}

// Stores keys [0, keys) over a few connections, as fast as they are taken.
void preload(unsigned short coordinator, uint64_t keys, std::vector<uint64_t>& next_seq,
             Failures& failures) {
  const uint64_t batches = (keys + kBatch - 1) / kBatch;
  std::vector<std::thread> senders;
  senders.reserve(kPreloadConnections);
  for (int s = 0; s < kPreloadConnections; ++s) {
    senders.emplace_back([=, &next_seq, &failures] {
      Connection connection(coordinator);
      BatchWriter writer(s, kPreloadConnections, next_seq);
      auto request = make_request(http::verb::post, "/l2/events");
      request.set(http::field::content_type, "application/json");
      for (uint64_t b = static_cast<uint64_t>(s); b < batches; b += kPreloadConnections) {
        std::string& body = request.body();
        writer.begin(body);
        for (uint64_t k = b * kBatch; k < std::min(keys, (b + 1) * kBatch); ++k) {
          if (k != b * kBatch) body += ',';
          append_event(body, k, true);
        }
        BatchWriter::end(body);
        if (!send_batch(connection, request, failures)) return;  // the count says why
      }
    });
  }
  for (auto& sender : senders) sender.join();
}

struct EventTotals {
  std::atomic<uint64_t> batches{0};  // answered 2xx
  std::atomic<uint64_t> new_keys{0};
};

// One event sender of the window: batches paced to `batches_per_sec` until
// `end`, sent at once when behind schedule (one in flight per connection).
void send_events(unsigned short coordinator, int sender, double batches_per_sec,
                 Clock::time_point end, uint64_t keys, std::vector<uint64_t>& next_seq,
                 EventTotals& totals, Failures& failures) {
  Connection connection(coordinator);
  BatchWriter writer(sender, kEventConnections, next_seq);
  Random random(0x5eed0000ULL + static_cast<uint64_t>(sender));
  // New keys of this sender: keys + sender + senders * j, disjoint from the others'.
  uint64_t next_new = keys + static_cast<uint64_t>(sender);
  auto request = make_request(http::verb::post, "/l2/events");
  request.set(http::field::content_type, "application/json");
  const auto interval = std::chrono::duration<double>(1.0 / batches_per_sec);
  const Clock::time_point start = Clock::now();
  for (uint64_t n = 0;; ++n) {
    const auto due = start + std::chrono::duration_cast<Clock::duration>(interval * n);
    if (due >= end || Clock::now() >= end) break;  // a backlog left at the end is dropped
    std::this_thread::sleep_until(due);
    std::string& body = request.body();
    writer.begin(body);
    for (uint64_t e = 0; e < kBatch; ++e) {
      if (e != 0) body += ',';
      if (e < kNewKeysPerBatch) {
        append_event(body, next_new, true);
        next_new += kEventConnections;
      } else {
        append_event(body, random.below(keys), random.below(100) < kStorePercent);
      }
    }
    BatchWriter::end(body);
    if (send_batch(connection, request, failures)) {
      ++totals.batches;
      totals.new_keys += kNewKeysPerBatch;
    }
  }
}

struct HeartbeatSamples {
  std::vector<int64_t> latency_ns;  // write of the request to the end of the answer
  int64_t max_lag_ns = 0;           // how late a send started against its schedule
  uint64_t late = 0;                // sends that started more than 1 ms late
};

// One heartbeat client of the window: paced to `per_sec`, instances
// client, client + clients, ... round-robin.
HeartbeatSamples send_heartbeats(unsigned short coordinator, int client, double per_sec,
                                 Clock::time_point end, Failures& failures) {
  HeartbeatSamples samples;
  samples.latency_ns.reserve(static_cast<size_t>(per_sec * 60));
  Connection connection(coordinator);
  std::vector<http::request<http::string_body>> requests;
  for (int i = client; i < kInstances; i += kHeartbeatConnections) {
    requests.push_back(
        make_request(http::verb::put, "/instances/" + instance_id(i) + "/heartbeat"));
  }
  const auto interval = std::chrono::duration<double>(1.0 / per_sec);
  const Clock::time_point start = Clock::now();
  for (uint64_t n = 0;; ++n) {
    const auto due = start + std::chrono::duration_cast<Clock::duration>(interval * n);
    if (due >= end || Clock::now() >= end) break;  // a backlog left at the end is dropped
    std::this_thread::sleep_until(due);
    const Clock::time_point sent = Clock::now();
    const int64_t lag = (sent - due).count();
    samples.max_lag_ns = std::max(samples.max_lag_ns, lag);
    if (sent - due > std::chrono::milliseconds(1)) ++samples.late;
    if (send_checked(connection, requests[n % requests.size()], failures)) {
      samples.latency_ns.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - sent).count());
    }
  }
  return samples;
}

// The sum of the samples of /metrics whose metric name contains `part`
// (names may change; the parts are chosen to stay unambiguous).
std::optional<double> metric(const std::string& text, std::string_view part) {
  std::optional<double> sum;
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t eol = rest.find('\n');
    const std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
    if (line.empty() || line.front() == '#') continue;
    const size_t name_end = line.find_first_of("{ ");
    const size_t value_at = line.rfind(' ');
    if (name_end == std::string_view::npos || line.substr(0, name_end).find(part) == line.npos) {
      continue;
    }
    sum = sum.value_or(0) + std::strtod(std::string(line.substr(value_at + 1)).c_str(), nullptr);
  }
  return sum;
}

std::string scrape_metrics(unsigned short coordinator, Failures& failures) {
  Connection connection(coordinator);
  auto request = make_request(http::verb::get, "/metrics");
  return send_checked(connection, request, failures) ? connection.body() : std::string{};
}

// CPU seconds (user + system) this process has used so far.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double ms_at(const std::vector<int64_t>& sorted, double quantile) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<size_t>(quantile * static_cast<double>(sorted.size()));
  return static_cast<double>(sorted[std::min(rank, sorted.size() - 1)]) / 1e6;
}

// False, with a message, when a request of the setup steps so far failed.
bool setup_succeeded(const Failures& failures, const char* step) {
  if (failures.total() == 0) return true;
  const uint64_t bad_batches = failures.duplicate.load() + failures.rejections.load();
  std::fprintf(stderr,
               "%s failed: %llu requests failed, %llu non-2xx, %llu duplicate or rejected\n", step,
               static_cast<unsigned long long>(failures.failed.load()),
               static_cast<unsigned long long>(failures.non_2xx.load()),
               static_cast<unsigned long long>(bad_batches));
  return false;
}

uint64_t positive_arg(int argc, char** argv, int index, uint64_t fallback) {
  if (index >= argc) return fallback;
  const std::string_view text = argv[index];
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value == 0) {
    std::fprintf(stderr, "not a positive integer: %s\n", argv[index]);
    std::exit(2);
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 6) {
    std::fprintf(stderr,
                 "usage: mixed_load PORT [SECONDS=20] [KEYS=10000000] [EVENTS_PER_SEC=1000000]"
                 " [HEARTBEATS_PER_SEC=2000]\n");
    return 2;
  }
  const auto port = static_cast<unsigned short>(positive_arg(argc, argv, 1, 0));
  const uint64_t seconds = positive_arg(argc, argv, 2, 20);
  const uint64_t keys = positive_arg(argc, argv, 3, 10000000);
  const uint64_t events_per_sec = positive_arg(argc, argv, 4, 1000000);
  const uint64_t heartbeats_per_sec = positive_arg(argc, argv, 5, 2000);

  Failures failures;
  MpServer mp;
  std::printf("stand-in MP server: 127.0.0.1:%u\n", mp.port());

  Clock::time_point phase = Clock::now();
  register_instances(port, mp.port(), failures);
  if (!setup_succeeded(failures, "registration")) return 1;
  std::printf("registered %d instances in %.2f s\n", kInstances, seconds_since(phase));

  set_quotas(port, kPreloadQuotaGb, failures);
  if (!setup_succeeded(failures, "quotas")) return 1;
  std::vector<uint64_t> next_seq(kInstances, 0);
  phase = Clock::now();
  preload(port, keys, next_seq, failures);
  const double preload_s = seconds_since(phase);
  if (!setup_succeeded(failures, "preload")) return 1;
  std::printf("preloaded %llu keys in %.2f s: %.0f keys/s (%d connections, batches of %llu)\n",
              static_cast<unsigned long long>(keys), preload_s,
              static_cast<double>(keys) / preload_s, kPreloadConnections,
              static_cast<unsigned long long>(kBatch));

  set_quotas(port, kWindowQuotaGb, failures);
  const std::string metrics_before = scrape_metrics(port, failures);
  const uint64_t deletes_before = mp.deletes();
  const uint64_t keys_before = mp.deleted_keys();

  EventTotals events;
  std::vector<HeartbeatSamples> heartbeats(kHeartbeatConnections);
  const double cpu_before = cpu_seconds();
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + std::chrono::seconds(seconds);
  {
    std::vector<std::thread> threads;
    threads.reserve(kEventConnections + kHeartbeatConnections);
    const double batches_per_sender =
        static_cast<double>(events_per_sec) / static_cast<double>(kBatch * kEventConnections);
    for (int s = 0; s < kEventConnections; ++s) {
      threads.emplace_back([&, s] {
        send_events(port, s, batches_per_sender, end, keys, next_seq, events, failures);
      });
    }
    const double per_client =
        static_cast<double>(heartbeats_per_sec) / static_cast<double>(kHeartbeatConnections);
    for (int c = 0; c < kHeartbeatConnections; ++c) {
      threads.emplace_back([&, c] {
        heartbeats[static_cast<size_t>(c)] = send_heartbeats(port, c, per_client, end, failures);
      });
    }
    for (auto& thread : threads) thread.join();
  }
  const double window_s = seconds_since(start);
  const double cpu_s = cpu_seconds() - cpu_before;
  const std::string metrics_after = scrape_metrics(port, failures);

  std::vector<int64_t> latencies;
  int64_t max_lag_ns = 0;
  uint64_t late = 0;
  for (const auto& samples : heartbeats) {
    latencies.insert(latencies.end(), samples.latency_ns.begin(), samples.latency_ns.end());
    max_lag_ns = std::max(max_lag_ns, samples.max_lag_ns);
    late += samples.late;
  }
  std::sort(latencies.begin(), latencies.end());

  const uint64_t event_count = events.batches.load() * kBatch;
  std::printf("window: %.2f s; this load tool used %.2f CPU seconds in it\n", window_s, cpu_s);
  std::printf("events: %.0f events/s achieved (target %llu; %llu batches of %llu, %llu new keys)\n",
              static_cast<double>(event_count) / window_s,
              static_cast<unsigned long long>(events_per_sec),
              static_cast<unsigned long long>(events.batches.load()),
              static_cast<unsigned long long>(kBatch),
              static_cast<unsigned long long>(events.new_keys.load()));
  std::printf("heartbeats: %zu answered, %.0f/s (target %llu/s over %d connections)\n",
              latencies.size(), static_cast<double>(latencies.size()) / window_s,
              static_cast<unsigned long long>(heartbeats_per_sec), kHeartbeatConnections);
  std::printf("heartbeat latency ms: p50 %.3f p99 %.3f p99.9 %.3f max %.3f\n",
              ms_at(latencies, 0.50), ms_at(latencies, 0.99), ms_at(latencies, 0.999),
              latencies.empty() ? 0.0 : static_cast<double>(latencies.back()) / 1e6);
  std::printf("heartbeat sends more than 1 ms behind schedule: %llu (max %.3f ms)\n",
              static_cast<unsigned long long>(late), static_cast<double>(max_lag_ns) / 1e6);
  for (const std::string_view part : {"eviction_sweeps", "victims", "dispatch_failures"}) {
    const auto before = metric(metrics_before, part);
    const auto after = metric(metrics_after, part);
    if (before && after) {
      std::printf("coordinator metric *%s*: %.0f during the window\n", std::string(part).c_str(),
                  *after - *before);
    } else {
      std::printf("coordinator metric *%s*: not found in /metrics\n", std::string(part).c_str());
    }
  }
  std::printf("stand-in MP server during the window: %llu DELETE requests, %llu keys\n",
              static_cast<unsigned long long>(mp.deletes() - deletes_before),
              static_cast<unsigned long long>(mp.deleted_keys() - keys_before));
  std::printf("stand-in MP server in all: %llu DELETE requests, %llu keys, %llu other requests\n",
              static_cast<unsigned long long>(mp.deletes()),
              static_cast<unsigned long long>(mp.deleted_keys()),
              static_cast<unsigned long long>(mp.other_requests()));
  std::printf("failed %llu, non-2xx %llu, duplicate batches %llu, batches with rejections %llu\n",
              static_cast<unsigned long long>(failures.failed.load()),
              static_cast<unsigned long long>(failures.non_2xx.load()),
              static_cast<unsigned long long>(failures.duplicate.load()),
              static_cast<unsigned long long>(failures.rejections.load()));
  return failures.total() == 0 ? 0 : 1;
}
