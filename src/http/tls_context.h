// The server's TLS settings: which PEM files it serves with, and the OpenSSL context made of them.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <stdexcept>
#include <string>

namespace lmcache::http {

// The PEM files HTTPS is served with.
struct TlsFiles {
  std::string cert;       // the certificate chain, leaf first
  std::string key;        // the private key of the leaf
  std::string client_ca;  // non-empty: clients must present a certificate signed by these CAs
};

// A TLS file that cannot be read or used; what() is one line naming the file and the reason.
class TlsSetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A server context from `files`: TLS 1.2 and later, no compression, no renegotiation, and with
// a client CA the peer's certificate required and verified. Throws TlsSetupError when a file
// is missing, unreadable or not what it should be (also a key that does not match the cert).
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const TlsFiles& files);

// The subject of the verified client certificate of `ssl`, RFC 2253 style
// ("CN=node-7,O=Fleet"); empty when the client presented none.
std::string client_certificate_subject(SSL* ssl);

}  // namespace lmcache::http
