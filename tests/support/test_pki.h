#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lmcache::testing {

// A certificate file and its private key, both PEM.
struct CertificatePair {
  std::string cert;
  std::string key;
};

// A test certificate authority and certificates made with the `openssl` command (P-256 keys)
// in a temporary directory, which the destructor removes. Every method throws
// std::runtime_error, with openssl's output, when a command fails.
class TestPki {
 public:
  // Whether the `openssl` command can be run (tests skip without it).
  static bool openssl_available();

  // Makes the directory and the CA ("CN=Test CA").
  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // The CA certificate.
  const std::string& ca_cert() const { return ca_.cert; }
  // The temporary directory.
  const std::string& dir() const { return dir_; }

  // A server certificate for IP 127.0.0.1 signed by the CA, with this serial, in
  // <name>.pem and <name>.key.
  CertificatePair server(const std::string& name, uint64_t serial);
  // A client certificate with subject CN=`common_name` signed by the CA.
  CertificatePair client(const std::string& name, const std::string& common_name);
  // A client certificate with subject CN=`common_name` signed by itself (no CA trusts it).
  CertificatePair self_signed(const std::string& name, const std::string& common_name);

  // Runs `openssl args...` in dir(); throws with its output when it fails.
  void openssl(const std::vector<std::string>& args) const;

 private:
  std::string path(const std::string& file) const { return dir_ + "/" + file; }
  // A new P-256 key and certificate request for CN=`common_name`.
  void request(const std::string& name, const std::string& common_name) const;
  CertificatePair sign(const std::string& name, const std::string& extensions,
                       uint64_t serial) const;

  std::string dir_;
  CertificatePair ca_;
};

}  // namespace lmcache::testing
