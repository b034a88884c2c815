#include "core/admin_tokens.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cstdio>

namespace lmcache::core {

TokenDigest sha256_digest(std::string_view text) {
  TokenDigest digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

bool digests_equal(const TokenDigest& a, const TokenDigest& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string token_fingerprint(std::string_view token) {
  const TokenDigest digest = sha256_digest(token);
  std::string hex(8, '0');
  constexpr std::string_view kHex = "0123456789abcdef";
  for (size_t i = 0; i < 4; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xF];
  }
  return hex;
}

AdminTokens::AdminTokens(const std::vector<std::string>& tokens) : digests_(digests_of(tokens)) {}

std::optional<std::string> AdminTokens::match(std::string_view presented) const {
  const TokenDigest digest = sha256_digest(presented);
  const std::shared_ptr<const Digests> digests = current();
  bool found = false;
  for (const TokenDigest& known : *digests) {  // no early exit: every digest is compared
    found |= digests_equal(digest, known);
  }
  if (!found) return std::nullopt;
  return token_fingerprint(presented);
}

void AdminTokens::replace(const std::vector<std::string>& tokens) {
  std::shared_ptr<const Digests> fresh = digests_of(tokens);
  MutexLock lock(mutex_);
  digests_.swap(fresh);
}

size_t AdminTokens::size() const { return current()->size(); }

std::shared_ptr<const AdminTokens::Digests> AdminTokens::digests_of(
    const std::vector<std::string>& tokens) {
  auto digests = std::make_shared<Digests>();
  digests->reserve(tokens.size());
  for (const std::string& token : tokens) digests->push_back(sha256_digest(token));
  return digests;
}

std::shared_ptr<const AdminTokens::Digests> AdminTokens::current() const {
  MutexLock lock(mutex_);
  return digests_;
}

}  // namespace lmcache::core
