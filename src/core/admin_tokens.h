// AdminTokens: the bearer tokens that grant operator access, replaceable while the server runs.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/mutex.h"
#include "core/thread_annotations.h"

namespace lmcache::core {

// A SHA-256 digest.
using TokenDigest = std::array<uint8_t, 32>;

TokenDigest sha256_digest(std::string_view text);

// Whether two digests are equal, in time that does not depend on where they differ.
bool digests_equal(const TokenDigest& a, const TokenDigest& b);

// The name a token goes by in logs: the first 8 hex digits of its SHA-256. It identifies a
// token among the operator's few without revealing it.
std::string token_fingerprint(std::string_view token);

// Keeps only the SHA-256 digests of the tokens, never the tokens. A presented token is hashed
// and compared with every digest in constant time, so neither the position of the first
// differing byte nor which token matched shows in the timing. Safe to use from any thread;
// replace() (a SIGHUP reload) is seen by checks that start after it returns.
class AdminTokens {
 public:
  explicit AdminTokens(const std::vector<std::string>& tokens);
  AdminTokens(const AdminTokens&) = delete;
  AdminTokens& operator=(const AdminTokens&) = delete;

  // The fingerprint of `presented` if it is one of the tokens; nullopt otherwise.
  std::optional<std::string> match(std::string_view presented) const;

  // Replaces the tokens.
  void replace(const std::vector<std::string>& tokens);

  // How many tokens are held.
  size_t size() const;

 private:
  using Digests = std::vector<TokenDigest>;
  static std::shared_ptr<const Digests> digests_of(const std::vector<std::string>& tokens);
  std::shared_ptr<const Digests> current() const;

  mutable Mutex mutex_;
  std::shared_ptr<const Digests> digests_ GUARDED_BY(mutex_);  // swapped whole on replace()
};

}  // namespace lmcache::core
