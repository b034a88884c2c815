#include "http/tls_context.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <string_view>
#include <system_error>

namespace lmcache::http {
namespace {

namespace ssl = boost::asio::ssl;

[[noreturn]] void fail(std::string_view what, const std::string& path, std::string_view reason) {
  ERR_clear_error();  // the reason is taken; leave nothing for the next OpenSSL call to trip on
  throw TlsSetupError(fmt::format("TLS {} '{}': {}", what, path, reason));
}

// OpenSSL's own messages for a file it cannot open are vague ("system lib"): say it first.
void check_readable(std::string_view what, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    fail(what, path, "cannot be read: " + std::generic_category().message(errno));
  }
  std::fclose(file);
}

// The private key in the PEM file at `path`; null when there is none, or only an encrypted one
// (OpenSSL would otherwise prompt on the terminal for its password).
EVP_PKEY* read_private_key(const std::string& path) {
  const std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(path.c_str(), "r"), &BIO_free);
  if (!bio) return nullptr;
  auto no_password = [](char*, int, int, void*) { return 0; };
  return PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr);
}

// With client certificates verified, OpenSSL fails a resumed handshake unless the context names
// the sessions it issues.
constexpr unsigned char kSessionIdContext[] = "lmcache-coordinator";

}  // namespace

std::shared_ptr<ssl::context> make_server_tls_context(const TlsFiles& files) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    fail("setting", "min-protocol", "OpenSSL refused TLS 1.2 as the lowest version");
  }
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                       ssl::context::single_dh_use);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);

  boost::system::error_code ec;
  check_readable("certificate file", files.cert);
  context->use_certificate_chain_file(files.cert, ec);
  if (ec) fail("certificate file", files.cert, "not a PEM certificate chain: " + ec.message());

  check_readable("key file", files.key);
  const std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(read_private_key(files.key),
                                                                &EVP_PKEY_free);
  if (!key) fail("key file", files.key, "not an unencrypted PEM private key");
  if (SSL_CTX_use_PrivateKey(native, key.get()) != 1 || SSL_CTX_check_private_key(native) != 1) {
    fail("key file", files.key, fmt::format("does not match the certificate in '{}'", files.cert));
  }

  if (!files.client_ca.empty()) {
    check_readable("client CA file", files.client_ca);
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.client_ca.c_str());
    if (names == nullptr) fail("client CA file", files.client_ca, "holds no PEM certificate");
    SSL_CTX_set_client_CA_list(native, names);  // the context owns `names` now
    context->load_verify_file(files.client_ca, ec);
    if (ec) fail("client CA file", files.client_ca, "not a PEM CA bundle: " + ec.message());
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    SSL_CTX_set_session_id_context(native, kSessionIdContext, sizeof(kSessionIdContext) - 1);
  }
  return context;
}

std::string client_certificate_subject(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return {};
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio) return {};
  if (X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) {
    return {};
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

}  // namespace lmcache::http
