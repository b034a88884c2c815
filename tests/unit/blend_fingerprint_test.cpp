#include "core/blend_fingerprint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace lmcache::core {
namespace {

std::vector<uint64_t> random_tokens(size_t n, uint64_t seed, uint64_t max = 50000) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<uint64_t> dist(0, max);
  std::vector<uint64_t> v(n);
  for (auto& t : v) t = dist(rng);
  return v;
}

// Thue-Morse sequence over {a, b}: position j gets b iff popcount(j) is odd.
std::vector<uint64_t> thue_morse(size_t n, uint64_t a, uint64_t b) {
  std::vector<uint64_t> v(n);
  for (size_t j = 0; j < n; ++j) v[j] = (__builtin_popcountll(j) & 1) ? b : a;
  return v;
}

// The hash the original coordinator trusts: a polynomial modulo 2^64.
uint64_t poly_mod_2_64(const std::vector<uint64_t>& v, uint64_t base) {
  uint64_t h = 0;
  for (uint64_t t : v) h = h * base + t;
  return h;
}

TEST(BlendFingerprintTest, RollingEqualsDirectAtEveryStart) {
  const BlendFingerprinter fpr(16, 7);
  const auto tokens = random_tokens(200, 1);
  std::vector<size_t> starts;
  fpr.roll(std::span<const uint64_t>(tokens), 1, [&](size_t start, const Fingerprint& fp) {
    starts.push_back(start);
    EXPECT_EQ(fp, fpr.of(std::span<const uint64_t>(tokens).subspan(start, 16))) << start;
  });
  ASSERT_EQ(starts.size(), 200u - 16 + 1);
  for (size_t i = 0; i < starts.size(); ++i) EXPECT_EQ(starts[i], i);
}

TEST(BlendFingerprintTest, StrideReportsOnlyMultiples) {
  for (size_t stride : {3u, 16u, 40u}) {
    const BlendFingerprinter fpr(16, 9);
    const auto tokens = random_tokens(123, 2);
    std::vector<size_t> starts;
    fpr.roll(std::span<const uint64_t>(tokens), stride, [&](size_t start, const Fingerprint& fp) {
      starts.push_back(start);
      EXPECT_EQ(fp, fpr.of(std::span<const uint64_t>(tokens).subspan(start, 16)));
    });
    std::vector<size_t> expected;
    for (size_t s = 0; s + 16 <= 123; s += stride) expected.push_back(s);
    EXPECT_EQ(starts, expected) << "stride " << stride;
  }
}

TEST(BlendFingerprintTest, UnorderedRollReportsSameWindows) {
  for (size_t window : {4u, 16u, 256u}) {
    for (size_t stride : {1u, 3u, 7u, 300u}) {
      for (size_t n : {100u, 1500u, 5000u}) {
        const BlendFingerprinter fpr(window, 21);
        const auto tokens = random_tokens(n, window * 7 + stride + n, ~0ull);
        const std::span<const uint64_t> span(tokens);
        std::vector<std::pair<size_t, Fingerprint>> ordered, unordered;
        fpr.roll(span, stride, [&](size_t s, const Fingerprint& f) { ordered.emplace_back(s, f); });
        fpr.roll_unordered(span, stride,
                           [&](size_t s, const Fingerprint& f) { unordered.emplace_back(s, f); });
        std::sort(unordered.begin(), unordered.end(),
                  [](const auto& x, const auto& y) { return x.first < y.first; });
        ASSERT_EQ(ordered.size(), unordered.size()) << window << " " << stride << " " << n;
        for (size_t i = 0; i < ordered.size(); ++i) {
          ASSERT_EQ(ordered[i].first, unordered[i].first);
          ASSERT_EQ(ordered[i].second, unordered[i].second);
          ASSERT_EQ(ordered[i].second, fpr.of(span.subspan(ordered[i].first, window)));
        }
      }
    }
  }
}

TEST(BlendFingerprintTest, ShortInputReportsNothing) {
  const BlendFingerprinter fpr(16, 9);
  const auto tokens = random_tokens(15, 2);
  int calls = 0;
  fpr.roll(std::span<const uint64_t>(tokens), 1, [&](size_t, const Fingerprint&) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(BlendFingerprintTest, Uint32SpanEqualsWidenedUint64) {
  const BlendFingerprinter fpr(8, 11);
  const auto wide = random_tokens(64, 3, 0xFFFFFFFFu);
  const std::vector<uint32_t> narrow(wide.begin(), wide.end());
  std::vector<Fingerprint> a, b;
  fpr.roll(std::span<const uint64_t>(wide), 1,
           [&](size_t, const Fingerprint& f) { a.push_back(f); });
  fpr.roll(std::span<const uint32_t>(narrow), 1,
           [&](size_t, const Fingerprint& f) { b.push_back(f); });
  EXPECT_EQ(a, b);
}

TEST(BlendFingerprintTest, LargeTokenValuesStayDistinct) {
  const BlendFingerprinter fpr(1, 5);
  const uint64_t p = BlendFingerprinter::kPrime;
  // Values that a reduction modulo p (or a truncation to 32 bits) would merge.
  const std::vector<uint64_t> values = {
      0, 1, 5, 5 + p, p, p - 1, 2 * p, 1ull << 32, 1ull << 61, ~0ull, ~0ull - p, 0xFFFFFFFFull};
  for (size_t i = 0; i < values.size(); ++i) {
    for (size_t j = i + 1; j < values.size(); ++j) {
      EXPECT_NE(fpr.of(std::span<const uint64_t>(&values[i], 1)),
                fpr.of(std::span<const uint64_t>(&values[j], 1)))
          << values[i] << " vs " << values[j];
    }
  }
  // Rolling handles large tokens the same way as direct hashing.
  const auto big = random_tokens(50, 4, ~0ull);
  const BlendFingerprinter fpr4(4, 5);
  fpr4.roll(std::span<const uint64_t>(big), 1, [&](size_t s, const Fingerprint& f) {
    EXPECT_EQ(f, fpr4.of(std::span<const uint64_t>(big).subspan(s, 4)));
  });
}

TEST(BlendFingerprintTest, PartsAreReducedBelowPrime) {
  const BlendFingerprinter fpr(32, 13);
  const auto tokens = random_tokens(500, 5, ~0ull);
  fpr.roll(std::span<const uint64_t>(tokens), 1, [&](size_t, const Fingerprint& f) {
    EXPECT_LT(f.a, BlendFingerprinter::kPrime);
    EXPECT_LT(f.b, BlendFingerprinter::kPrime);
  });
}

TEST(BlendFingerprintTest, SeedsGiveDifferentFingerprints) {
  const auto tokens = random_tokens(16, 6);
  const std::span<const uint64_t> s(tokens);
  EXPECT_EQ(BlendFingerprinter(16, 1).of(s), BlendFingerprinter(16, 1).of(s));
  EXPECT_NE(BlendFingerprinter(16, 1).of(s), BlendFingerprinter(16, 2).of(s));
  EXPECT_NE(BlendFingerprinter(16).of(s), BlendFingerprinter(16).of(s));  // random seeds
}

// For n = 2^k the Thue-Morse word t and its complement u differ by
// (a - b) * prod_{i<k} (1 - B^(2^i)) under a polynomial hash with base B; for odd B
// the 2-adic valuation of that product is at least 1 + sum_{i=1}^{k-1} (i + 2),
// which reaches 64 at k = 10. So at n = 1024 every odd base collides modulo 2^64.
TEST(BlendFingerprintTest, ThueMorsePairCollidesModulo2To64ButNotHere) {
  constexpr size_t kLen = 1024;
  const auto t = thue_morse(kLen, 17, 42);
  const auto u = thue_morse(kLen, 42, 17);
  ASSERT_NE(t, u);
  std::mt19937_64 rng(99);
  for (int trial = 0; trial < 20; ++trial) {
    const uint64_t odd_base = rng() | 1;
    EXPECT_EQ(poly_mod_2_64(t, odd_base), poly_mod_2_64(u, odd_base)) << odd_base;
  }
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const BlendFingerprinter fpr(kLen, seed);
    EXPECT_NE(fpr.of(std::span<const uint64_t>(t)), fpr.of(std::span<const uint64_t>(u)));
  }
  const BlendFingerprinter random_fpr(kLen);
  EXPECT_NE(random_fpr.of(std::span<const uint64_t>(t)),
            random_fpr.of(std::span<const uint64_t>(u)));
}

// Checks the arithmetic against a plain reference evaluation in GF(p^2). The
// evaluation point B is the fingerprint of (1, 0) under a 2-token window with
// the same seed, since the point depends on the seed only.
TEST(BlendFingerprintTest, MatchesReferencePolynomialInGfP2) {
  using u128 = unsigned __int128;
  const uint64_t p = BlendFingerprinter::kPrime;
  auto mulmod = [&](uint64_t x, uint64_t y) { return static_cast<uint64_t>(u128(x) * y % p); };
  struct G {
    uint64_t a, b;
  };
  auto gmul = [&](G x, G y) {
    return G{(mulmod(x.a, y.a) + p - mulmod(x.b, y.b)) % p,
             (mulmod(x.a, y.b) + mulmod(x.b, y.a)) % p};
  };
  const uint64_t one_zero[2] = {1, 0};
  const Fingerprint base = BlendFingerprinter(2, 77).of(std::span<const uint64_t>(one_zero, 2));
  const G B{base.a, base.b};
  const auto tokens = random_tokens(9, 8, ~0ull);
  G h{0, 0};
  for (uint64_t t : tokens) {
    h = gmul(h, B);
    h.a = (h.a + (t & 0xFFFFFFFFu)) % p;
    h.b = (h.b + (t >> 32)) % p;
  }
  const Fingerprint got = BlendFingerprinter(9, 77).of(std::span<const uint64_t>(tokens));
  EXPECT_EQ(got.a, h.a);
  EXPECT_EQ(got.b, h.b);
}

TEST(BlendFingerprintTest, ZeroWindowRejected) {
  EXPECT_THROW(BlendFingerprinter(0, 1), std::invalid_argument);
}

}  // namespace
}  // namespace lmcache::core
