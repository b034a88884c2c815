#include "http/tls_context.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "test_pki.h"

namespace lmcache::http {
namespace {

using testing::TestPki;

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TestPki::openssl_available()) GTEST_SKIP() << "the openssl command is not installed";
    pki_.emplace();
  }

  // The message make_server_tls_context throws for `files`; "" when it throws nothing.
  static std::string failure(const TlsFiles& files) {
    try {
      make_server_tls_context(files);
      return "";
    } catch (const TlsSetupError& error) {
      return error.what();
    }
  }

  std::string write(const std::string& name, const std::string& text) {
    std::string path = pki_->dir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  std::optional<TestPki> pki_;
};

TEST_F(TlsContextTest, AcceptsAMatchingPairAndAClientCa) {
  const auto server = pki_->server("server", 2);
  EXPECT_EQ(failure({server.cert, server.key, ""}), "");
  EXPECT_EQ(failure({server.cert, server.key, pki_->ca_cert()}), "");
}

TEST_F(TlsContextTest, NamesAFileThatCannotBeRead) {
  const auto server = pki_->server("server", 2);
  const std::string missing = pki_->dir() + "/missing.pem";
  std::string message = failure({missing, server.key, ""});
  EXPECT_NE(message.find("certificate file '" + missing + "'"), std::string::npos) << message;
  EXPECT_NE(message.find("No such file"), std::string::npos) << message;
  message = failure({server.cert, missing, ""});
  EXPECT_NE(message.find("key file '" + missing + "'"), std::string::npos) << message;
  message = failure({server.cert, server.key, missing});
  EXPECT_NE(message.find("client CA file '" + missing + "'"), std::string::npos) << message;
}

TEST_F(TlsContextTest, RefusesFilesThatAreNotWhatTheyShouldBe) {
  const auto server = pki_->server("server", 2);
  const std::string garbage = write("garbage.pem", "not a certificate\n");
  EXPECT_NE(failure({garbage, server.key, ""}).find("not a PEM certificate chain"),
            std::string::npos);
  // A certificate in place of the key.
  EXPECT_NE(failure({server.cert, server.cert, ""}).find("not an unencrypted PEM private key"),
            std::string::npos);
  EXPECT_NE(failure({server.cert, server.key, garbage}).find("holds no PEM certificate"),
            std::string::npos);
}

TEST_F(TlsContextTest, RefusesAKeyOfAnotherCertificate) {
  const auto server = pki_->server("server", 2);
  const auto other = pki_->server("other", 3);
  const std::string message = failure({server.cert, other.key, ""});
  EXPECT_NE(message.find("does not match the certificate in '" + server.cert + "'"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace lmcache::http
