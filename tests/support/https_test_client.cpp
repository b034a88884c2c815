#include "https_test_client.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cctype>
#include <memory>
#include <optional>

namespace lmcache::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Stream = beast::ssl_stream<beast::tcp_stream>;

// Runs one asynchronous operation to its end, or cancels it after `timeout`.
template <class Start>
beast::error_code await(net::io_context& io, Stream& stream, std::chrono::milliseconds timeout,
                        Start start) {
  std::optional<beast::error_code> result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run_for(timeout);
  if (result) return *result;
  beast::get_lowest_layer(stream).cancel();
  io.restart();
  io.run();  // the cancelled handler
  return net::error::timed_out;
}

std::string serial_of(SSL* handle) {
  std::unique_ptr<X509, decltype(&X509_free)> cert(SSL_get1_peer_certificate(handle), &X509_free);
  if (!cert) return {};
  std::unique_ptr<BIGNUM, decltype(&BN_free)> number(
      ASN1_INTEGER_to_BN(X509_get_serialNumber(cert.get()), nullptr), &BN_free);
  if (!number) return {};
  char* hex = BN_bn2hex(number.get());
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

HttpsOutcome failed(std::string error) {
  HttpsOutcome outcome;
  outcome.error = std::move(error);
  return outcome;
}

}  // namespace

struct HttpsTestConnection::State {
  explicit State(ssl::context::method method) : context(method) {}
  ssl::context context;
  net::io_context io;
  std::optional<Stream> stream;
  beast::flat_buffer buffer;
};

HttpsTestConnection::HttpsTestConnection(uint16_t port, const TlsClientOptions& options,
                                         std::chrono::milliseconds timeout)
    : port_(port), timeout_(timeout), state_(std::make_unique<State>(ssl::context::tls_client)) {
  SSL_CTX* context = state_->context.native_handle();
  if (options.max_version != 0) {
    SSL_CTX_set_security_level(context, 0);
    SSL_CTX_set_min_proto_version(context, 0);
    SSL_CTX_set_max_proto_version(context, options.max_version);
    SSL_CTX_set_cipher_list(context, "DEFAULT:@SECLEVEL=0");
  }
  boost::system::error_code ec;
  if (!options.ca_file.empty()) {
    state_->context.load_verify_file(options.ca_file, ec);
    if (ec) {
      setup_error_ = "client: cannot load CA " + options.ca_file + ": " + ec.message();
      return;
    }
    state_->context.set_verify_mode(ssl::verify_peer);
  }
  if (!options.cert_file.empty()) {
    state_->context.use_certificate_chain_file(options.cert_file, ec);
    if (!ec) state_->context.use_private_key_file(options.key_file, ssl::context::pem, ec);
    if (ec) {
      setup_error_ = "client: cannot load certificate " + options.cert_file + ": " + ec.message();
    }
  }
}

HttpsTestConnection::~HttpsTestConnection() { close(); }

std::string HttpsTestConnection::open() {
  if (!setup_error_.empty()) return setup_error_;
  auto& stream = state_->stream.emplace(state_->io, state_->context);
  state_->buffer.clear();
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream.native_handle()), "127.0.0.1");
  const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port_);
  beast::error_code ec = await(state_->io, stream, timeout_, [&](auto handler) {
    beast::get_lowest_layer(stream).async_connect(endpoint, std::move(handler));
  });
  if (ec) return "connect: " + ec.message();
  ec = await(state_->io, stream, timeout_, [&](auto handler) {
    stream.async_handshake(ssl::stream_base::client, std::move(handler));
  });
  if (ec) return "handshake: " + ec.message();
  server_serial_ = serial_of(stream.native_handle());
  protocol_ = SSL_get_version(stream.native_handle());
  return "";
}

HttpsOutcome HttpsTestConnection::request(http::verb method, const std::string& target,
                                          const std::string& body) {
  if (!state_->stream) return failed("not open");
  Stream& stream = *state_->stream;
  HttpsOutcome outcome;
  outcome.server_serial = server_serial_;
  outcome.protocol = protocol_;
  http::request<http::string_body> request{method, target, 11};
  request.set(http::field::host, "127.0.0.1");
  if (!body.empty()) {
    request.set(http::field::content_type, "application/json");
    request.body() = body;
  }
  request.prepare_payload();
  beast::error_code ec = await(state_->io, stream, timeout_, [&](auto handler) {
    http::async_write(stream, request, std::move(handler));
  });
  if (ec) {
    outcome.error = "write: " + ec.message();
    return outcome;
  }
  http::response<http::string_body> response;
  ec = await(state_->io, stream, timeout_, [&](auto handler) {
    http::async_read(stream, state_->buffer, response, std::move(handler));
  });
  if (ec) {
    // Over TLS 1.3 the server checks a client certificate after the client's handshake
    // ended: a refusal shows here, as an alert in place of the answer.
    outcome.error = "read: " + ec.message();
    return outcome;
  }
  outcome.response.status = response.result_int();
  outcome.response.body = response.body();
  outcome.response.keep_alive = response.keep_alive();
  for (const auto& field : response) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    outcome.response.headers[name] = std::string(field.value());
  }
  return outcome;
}

void HttpsTestConnection::close() {
  if (!state_->stream) return;
  Stream& stream = *state_->stream;
  await(state_->io, stream, timeout_,
        [&](auto handler) { stream.async_shutdown(std::move(handler)); });
  beast::get_lowest_layer(stream).close();
  state_->stream.reset();
}

HttpsOutcome https_request(uint16_t port, const TlsClientOptions& options, http::verb method,
                           const std::string& target, const std::string& body,
                           std::chrono::milliseconds timeout) {
  HttpsTestConnection connection(port, options, timeout);
  if (std::string error = connection.open(); !error.empty()) return failed(std::move(error));
  return connection.request(method, target, body);
}

}  // namespace lmcache::testing
