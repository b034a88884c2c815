#include "support/fake_mp_server.h"

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <thread>
#include <utility>

namespace lmcache::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

constexpr std::size_t kDefaultPageSize = 1000;
constexpr std::size_t kTokensPerChunk = 256;
constexpr std::size_t kMaxRequestBodyBytes = std::size_t{256} * 1024 * 1024;

// What the server sends back for one request.
struct Answer {
  FakeMpServer::Response response;
  std::string allow;  // Allow header of a 405
};

Answer json_answer(unsigned status, const json::value& body) {
  return {{status, json::serialize(body), "application/json"}, {}};
}

Answer detail(unsigned status, std::string_view text) {
  return json_answer(status, json::object{{"detail", text}});
}

Answer method_not_allowed(std::string allow) {
  Answer a = detail(405, "Method Not Allowed");
  a.allow = std::move(allow);
  return a;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX (and '+' as space in queries, like Starlette's parse_qsl).
std::string percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 &&
        hex_value(in[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
      i += 2;
    } else if (in[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += in[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> params;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    std::string name = percent_decode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1), true);
    params.emplace(std::move(name), std::move(value));
  }
  return params;
}

std::optional<std::size_t> parse_size(std::string_view text) {
  std::size_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::string page_token(std::size_t offset, std::size_t page) {
  return "o=" + std::to_string(offset) + "&p=" + std::to_string(page);
}

// Parses a page_token() back into (offset, page).
std::optional<std::pair<std::size_t, std::size_t>> parse_page_token(std::string_view token) {
  if (token.substr(0, 2) != "o=") return std::nullopt;
  const auto amp = token.find("&p=");
  if (amp == std::string_view::npos) return std::nullopt;
  auto offset = parse_size(token.substr(2, amp - 2));
  auto page = parse_size(token.substr(amp + 3));
  if (!offset || !page) return std::nullopt;
  return std::pair{*offset, *page};
}

Answer pydantic_page_size_error(std::string_view input, std::string_view type,
                                std::string_view msg) {
  json::object error{
      {"type", type}, {"loc", json::array{"query", "page_size"}}, {"msg", msg}, {"input", input}};
  return json_answer(422, json::object{{"detail", json::array{std::move(error)}}});
}

}  // namespace

// Configuration and records, shared by the test thread and the server thread.
struct FakeMpServer::State {
  explicit State(Dialect d) : dialect(d) {}

  const Dialect dialect;
  mutable std::mutex mu;
  mutable std::condition_variable changed;

  // Records.
  std::vector<Request> requests;
  std::vector<std::size_t> page_sizes;
  std::size_t submissions = 0;
  // v2: submitted request id -> (chunks, polls so far).
  std::map<std::string, std::pair<std::size_t, std::size_t>> v2_prefetches;

  // Configuration.
  std::optional<Response> delete_response;
  std::vector<std::string> keys;
  std::optional<std::size_t> fail_page;
  std::optional<Response> submit_response;
  std::map<std::string, Response> prefetch_status;
  std::optional<Response> prefetch_status_default;
  std::chrono::milliseconds delay{0};
  std::optional<unsigned> fail_all;
  bool blackhole = false;

  const char* delete_path() const { return dialect == Dialect::kV2 ? "/cache/objects" : "/l2"; }
  const char* prefetch_path() const {
    return dialect == Dialect::kV2 ? "/cache/prefetches" : "/l2/prefetch";
  }
  bool is_delete(const Request& r) const {
    return r.method == "DELETE" && r.target.substr(0, r.target.find('?')) == delete_path();
  }

  // The routes; called with mu held.
  Answer route(const Request& r);
  Answer route_v2(const std::string& path, const Request& r);
  Answer delete_keys(const Request& r);
  Answer poll_v2_prefetch(const std::string& request_id);
  Answer keys_page(const std::map<std::string, std::string>& query);
  Answer submit_prefetch(const Request& r);
  Answer poll_prefetch(const std::string& request_id);
};

Answer FakeMpServer::State::route(const Request& r) {
  const auto question = r.target.find('?');
  const std::string path = r.target.substr(0, question);
  const std::string query = question == std::string::npos ? "" : r.target.substr(question + 1);
  if (dialect == Dialect::kV2) return route_v2(path, r);

  if (path == "/l2") {
    return r.method == "DELETE" ? delete_keys(r) : method_not_allowed("DELETE");
  }
  if (path == "/l2/keys") {
    return r.method == "GET" ? keys_page(parse_query(query)) : method_not_allowed("GET");
  }
  if (path == "/l2/prefetch") {
    return r.method == "POST" ? submit_prefetch(r) : method_not_allowed("POST");
  }
  static constexpr std::string_view kPollPrefix = "/l2/prefetch/";
  if (path.size() > kPollPrefix.size() && path.compare(0, kPollPrefix.size(), kPollPrefix) == 0 &&
      path.find('/', kPollPrefix.size()) == std::string::npos) {
    if (r.method != "GET") return method_not_allowed("GET");
    return poll_prefetch(percent_decode(std::string_view(path).substr(kPollPrefix.size()), false));
  }
  return detail(404, "Not Found");
}

Answer FakeMpServer::State::route_v2(const std::string& path, const Request& r) {
  if (path == "/cache/objects") {
    return r.method == "DELETE" ? delete_keys(r) : method_not_allowed("DELETE");
  }
  if (path == "/cache/prefetches") {
    return r.method == "POST" ? submit_prefetch(r) : method_not_allowed("POST");
  }
  static constexpr std::string_view kPollPrefix = "/cache/prefetches/";
  if (path.size() > kPollPrefix.size() && path.compare(0, kPollPrefix.size(), kPollPrefix) == 0 &&
      path.find('/', kPollPrefix.size()) == std::string::npos) {
    if (r.method != "GET") return method_not_allowed("GET");
    return poll_v2_prefetch(
        percent_decode(std::string_view(path).substr(kPollPrefix.size()), false));
  }
  return detail(404, "Not Found");
}

Answer FakeMpServer::State::poll_v2_prefetch(const std::string& request_id) {
  const auto it = v2_prefetches.find(request_id);
  if (it == v2_prefetches.end()) return detail(404, "unknown request " + request_id);
  auto& [chunks, polls] = it->second;
  if (polls++ == 0) {
    return json_answer(200, json::object{{"request_id", request_id}, {"status", "pending"}});
  }
  json::object done{{"request_id", request_id},
                    {"status", "completed"},
                    {"found_keys", chunks},
                    {"total_keys", chunks}};
  v2_prefetches.erase(it);
  return json_answer(200, done);
}

Answer FakeMpServer::State::delete_keys(const Request& r) {
  boost::system::error_code ec;
  const json::value body = json::parse(r.body, ec);
  const json::array* keys = nullptr;
  if (!ec && body.is_object()) {
    if (const auto* k = body.as_object().if_contains("keys")) keys = k->if_array();
  }
  if (keys == nullptr) return detail(422, "body must be {\"keys\":[...]}");
  if (keys->size() > kMaxDeleteKeys) return detail(400, "too many keys");
  if (delete_response) return {*delete_response, {}};
  if (dialect == Dialect::kV2) {
    return json_answer(200, json::object{{"deleted", keys->size()}, {"skipped", 0}, {"ok", true}});
  }
  return json_answer(200, json::object{{"status", "ok"}, {"deleted", keys->size()}});
}

Answer FakeMpServer::State::keys_page(const std::map<std::string, std::string>& query) {
  std::size_t page_size = kDefaultPageSize;
  if (const auto it = query.find("page_size"); it != query.end()) {
    const auto parsed = parse_size(it->second);
    page_sizes.push_back(parsed.value_or(0));
    if (!parsed) {
      return pydantic_page_size_error(it->second, "int_parsing",
                                      "Input should be a valid integer, unable to parse string "
                                      "as an integer");
    }
    if (*parsed < 1) {
      return pydantic_page_size_error(it->second, "greater_than_equal",
                                      "Input should be greater than or equal to 1");
    }
    if (*parsed > kMaxPageSize) {
      return pydantic_page_size_error(it->second, "less_than_equal",
                                      "Input should be less than or equal to 5000");
    }
    page_size = *parsed;
  } else {
    page_sizes.push_back(kDefaultPageSize);
  }

  std::size_t offset = 0;
  std::size_t page = 0;
  if (const auto it = query.find("page_token"); it != query.end()) {
    const auto parsed = parse_page_token(it->second);
    if (!parsed) return detail(400, "invalid page_token");
    std::tie(offset, page) = *parsed;
  }
  if (fail_page && *fail_page == page) {
    return detail(500, "injected failure at page " + std::to_string(page));
  }

  // Entries are spliced in as raw text so tests can serve malformed ones.
  std::string body = "{\"entries\":[";
  const std::size_t end = std::min(keys.size(), offset + page_size);
  for (std::size_t i = offset; i < end; ++i) {
    if (i != offset) body += ',';
    body += keys[i];
  }
  body += "],\"next_page_token\":";
  body += end < keys.size() ? json::serialize(json::value(page_token(end, page + 1))) : "null";
  body += '}';
  return {{200, std::move(body), "application/json"}, {}};
}

Answer FakeMpServer::State::submit_prefetch(const Request& r) {
  ++submissions;
  if (submit_response) return {*submit_response, {}};
  boost::system::error_code ec;
  const json::value body = json::parse(r.body, ec);
  if (ec || !body.is_object()) return detail(422, "body must be a JSON object");
  std::size_t tokens = 0;
  if (const auto* ids = body.as_object().if_contains("token_ids"); ids && ids->is_array()) {
    tokens = ids->as_array().size();
  }
  if (dialect == Dialect::kV2 && tokens < kTokensPerChunk) {
    // Not one full chunk: nothing to load, no job.
    return json_answer(200, json::object{{"chunks", 0}, {"status", "noop"}});
  }
  const std::string request_id = "r-" + std::to_string(submissions);
  if (dialect == Dialect::kV2) v2_prefetches[request_id] = {tokens / kTokensPerChunk, 0};
  return json_answer(202, json::object{{"request_id", request_id},
                                       {"chunks", tokens / kTokensPerChunk},
                                       {"status", "submitted"}});
}

Answer FakeMpServer::State::poll_prefetch(const std::string& request_id) {
  if (const auto it = prefetch_status.find(request_id); it != prefetch_status.end()) {
    return {it->second, {}};
  }
  if (prefetch_status_default) return {*prefetch_status_default, {}};
  return json_answer(200, json::object{{"request_id", request_id}, {"status", "done"}});
}

// One connection: read -> record and route -> (delay) -> write -> read again
// while keep-alive. In blackhole mode it reads and discards until the peer
// closes.
class FakeMpServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<State> state)
      : stream_(std::move(socket)),
        delay_timer_(stream_.get_executor()),
        state_(std::move(state)) {}

  void read() {
    parser_.emplace();
    parser_->body_limit(kMaxRequestBodyBytes);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       if (ec) return self->close();  // includes end_of_stream
                       self->handle(self->parser_->release());
                     });
  }

 private:
  void handle(http::request<http::string_body> req) {
    Request record{std::string(req.method_string()), std::string(req.target()), req.body(),
                   std::string(req["X-LMCache-Coordinator-Epoch"])};
    Answer answer;
    std::chrono::milliseconds delay{0};
    bool blackhole = false;
    {
      std::lock_guard lock(state_->mu);
      state_->requests.push_back(record);
      delay = state_->delay;
      blackhole = state_->blackhole;
      if (!blackhole) {
        answer = state_->fail_all ? detail(*state_->fail_all, "injected failure")
                                  : state_->route(record);
      }
    }
    state_->changed.notify_all();
    if (blackhole) return drain();

    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(req.version());
    res->result(answer.response.status);
    res->set(http::field::server, "fake-lmcache-mp");
    if (!answer.response.content_type.empty()) {
      res->set(http::field::content_type, answer.response.content_type);
    }
    if (!answer.allow.empty()) res->set(http::field::allow, answer.allow);
    res->body() = std::move(answer.response.body);
    res->keep_alive(req.keep_alive());
    res->prepare_payload();

    if (delay.count() <= 0) return write(res);
    delay_timer_.expires_after(delay);
    delay_timer_.async_wait([self = shared_from_this(), res](boost::system::error_code ec) {
      if (ec) return;
      self->write(res);
    });
  }

  void write(const std::shared_ptr<http::response<http::string_body>>& res) {
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](boost::system::error_code ec, std::size_t) {
                        if (ec || !res->keep_alive()) return self->close();
                        self->read();
                      });
  }

  void drain() {
    stream_.socket().async_read_some(
        asio::buffer(drain_buffer_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
          if (ec) return self->close();
          self->drain();
        });
  }

  void close() {
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // Holds back an answer when a delay is configured.
  asio::steady_timer delay_timer_;
  // Sink for blackholed connections.
  std::array<char, 4096> drain_buffer_{};
  std::shared_ptr<State> state_;
};

struct FakeMpServer::Impl {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;

  void accept(const std::shared_ptr<State>& state) {
    acceptor.async_accept([this, state](boost::system::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) std::make_shared<Session>(std::move(socket), state)->read();
      accept(state);
    });
  }
};

FakeMpServer::FakeMpServer(Dialect dialect)
    : state_(std::make_shared<State>(dialect)), impl_(std::make_unique<Impl>()) {
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->accept(state_);
  impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
}

FakeMpServer::~FakeMpServer() {
  asio::post(impl_->ioc, [impl = impl_.get()] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
    impl->ioc.stop();
  });
  impl_->thread.join();
  // Destroying impl_ (the io_context last) drops every pending session.
}

std::vector<FakeMpServer::Request> FakeMpServer::requests() const {
  std::lock_guard lock(state_->mu);
  return state_->requests;
}

std::vector<std::string> FakeMpServer::delete_bodies() const {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> out;
  for (const auto& r : state_->requests) {
    if (state_->is_delete(r)) out.push_back(r.body);
  }
  return out;
}

std::vector<boost::json::value> FakeMpServer::deleted_keys() const {
  std::vector<boost::json::value> out;
  for (const auto& body : delete_bodies()) {
    boost::system::error_code ec;
    const json::value parsed = json::parse(body, ec);
    if (ec || !parsed.is_object()) continue;
    const auto* keys = parsed.as_object().if_contains("keys");
    if (keys == nullptr || !keys->is_array()) continue;
    for (const auto& key : keys->as_array()) out.push_back(key);
  }
  return out;
}

std::vector<std::string> FakeMpServer::prefetch_bodies() const {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> out;
  for (const auto& r : state_->requests) {
    if (r.method == "POST" && r.target.substr(0, r.target.find('?')) == state_->prefetch_path()) {
      out.push_back(r.body);
    }
  }
  return out;
}

std::vector<std::size_t> FakeMpServer::keys_page_sizes() const {
  std::lock_guard lock(state_->mu);
  return state_->page_sizes;
}

bool FakeMpServer::wait_for_deletes(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mu);
  return state_->changed.wait_for(lock, timeout, [&] {
    std::size_t deletes = 0;
    for (const auto& r : state_->requests) deletes += state_->is_delete(r) ? 1 : 0;
    return deletes >= n;
  });
}

bool FakeMpServer::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mu);
  return state_->changed.wait_for(lock, timeout, [&] { return state_->requests.size() >= n; });
}

void FakeMpServer::clear_requests() {
  std::lock_guard lock(state_->mu);
  state_->requests.clear();
  state_->page_sizes.clear();
}

void FakeMpServer::set_delete_response(unsigned status, std::string body) {
  std::lock_guard lock(state_->mu);
  state_->delete_response = Response{status, std::move(body), "application/json"};
}

void FakeMpServer::reset_delete_response() {
  std::lock_guard lock(state_->mu);
  state_->delete_response.reset();
}

void FakeMpServer::set_keys(std::vector<std::string> entries) {
  std::lock_guard lock(state_->mu);
  state_->keys = std::move(entries);
}

void FakeMpServer::set_keys_fail_at_page(std::optional<std::size_t> page) {
  std::lock_guard lock(state_->mu);
  state_->fail_page = page;
}

void FakeMpServer::set_prefetch_submit_response(unsigned status, std::string body) {
  std::lock_guard lock(state_->mu);
  state_->submit_response = Response{status, std::move(body), "application/json"};
}

void FakeMpServer::reset_prefetch_submit_response() {
  std::lock_guard lock(state_->mu);
  state_->submit_response.reset();
}

void FakeMpServer::set_prefetch_status(const std::string& request_id, Response response) {
  std::lock_guard lock(state_->mu);
  state_->prefetch_status[request_id] = std::move(response);
}

void FakeMpServer::set_prefetch_status_default(std::optional<Response> response) {
  std::lock_guard lock(state_->mu);
  state_->prefetch_status_default = std::move(response);
}

void FakeMpServer::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(state_->mu);
  state_->delay = delay;
}

void FakeMpServer::set_fail_all(std::optional<unsigned> status) {
  std::lock_guard lock(state_->mu);
  state_->fail_all = status;
}

void FakeMpServer::set_blackhole(bool on) {
  std::lock_guard lock(state_->mu);
  state_->blackhole = on;
}

}  // namespace lmcache::testing
