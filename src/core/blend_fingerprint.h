// Rolling fingerprints of fixed-length token windows for the CacheBlend directory.
//
// A fingerprint is the value at a secret random point of the polynomial whose
// coefficients are the window's tokens, computed in the field GF(p^2) with
// p = 2^61 - 1 (the Mersenne prime; GF(p^2) = Z_p[i] / (i^2 + 1), valid since
// p = 3 mod 4).
//
// Guarantee. Each token t (any uint64) becomes the field element
// (t mod 2^32) + (t >> 32) * i; this map is injective on all 64-bit values, so
// two windows of L tokens that differ in any token give two different
// polynomials of degree < L, and their fingerprints are equal only if the
// random point is a root of their difference: probability at most
// (L - 1) / p^2 < L * 2^-121.9 over the choice of the point. That is below
// 2^-100 per comparison for every window length L <= 2^21 (2^-114 at L = 256).
// The point is drawn once per BlendFingerprinter from std::random_device, so
// nobody outside the process can aim for a collision. This is why we do not use
// a single polynomial modulo 2^64: the Thue-Morse sequence and its complement
// collide for every odd base there.
//
// Why not two independent hashes modulo p: they collide with probability
// ((L-1)/p)^2, which is only 2^-82 at L = 2^20; one evaluation in GF(p^2) costs
// about the same and gives (L-1)/p^2.

#ifndef LMCACHE_CORE_BLEND_FINGERPRINT_H_
#define LMCACHE_CORE_BLEND_FINGERPRINT_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

namespace lmcache::core {

// The fingerprint of one window: an element a + b*i of GF(p^2), 0 <= a, b < p.
struct Fingerprint {
  uint64_t a = 0;  // real part, reduced below p
  uint64_t b = 0;  // imaginary part, reduced below p

  friend bool operator==(const Fingerprint&, const Fingerprint&) = default;

  // 64 well-mixed bits for hash tables. The parts are already unpredictable
  // (evaluation at a secret point), this only folds them together.
  uint64_t hash64() const { return (a * 0x9E3779B97F4A7C15ull) ^ (b + (b >> 29)); }
};

// Fingerprints windows of exactly `window` tokens with one random evaluation
// point. Fingerprints are comparable only between windows of the same
// fingerprinter. Immutable after construction, so safe to share across threads.
class BlendFingerprinter {
 public:
  static constexpr uint64_t kPrime = (uint64_t{1} << 61) - 1;

  // Draws the evaluation point from std::random_device. `window` must be >= 1.
  explicit BlendFingerprinter(size_t window);
  // Deterministic evaluation point derived from `seed` (tests, benchmarks).
  BlendFingerprinter(size_t window, uint64_t seed);

  size_t window() const { return window_; }

  // Fingerprint of tokens[0, window()). Requires tokens.size() >= window().
  // A uint32 span gives the same result as the same values widened to uint64.
  template <typename Token>
  Fingerprint of(std::span<const Token> tokens) const;

  // Calls sink(start, fingerprint) for every full window tokens[start,
  // start + window()) whose start is a multiple of `stride` (>= 1), in
  // ascending order. O(tokens.size()) field operations overall, whatever the
  // stride.
  template <typename Token, typename Sink>
  void roll(std::span<const Token> tokens, size_t stride, Sink&& sink) const;

  // Same windows as roll(), each reported exactly once but in no particular
  // order. About twice as fast for long inputs: it rolls two halves at once.
  template <typename Token, typename Sink>
  void roll_unordered(std::span<const Token> tokens, size_t stride, Sink&& sink) const;

 private:
  // Horner evaluation of N windows at once: independent chains overlap in the CPU.
  template <size_t N, typename Token>
  void of_many(const Token* const* windows, Fingerprint* out) const;
  // One rolling step: H <- H * B - out * B^L + in.
  template <typename Token>
  void advance(uint64_t& ha, uint64_t& hb, uint64_t out, uint64_t in) const;

  void init_from_seed(uint64_t seed);
  void finish_init();

  // (x mod p) for x < 2^124 (a sum of at most four products of values < 2^61, plus a small term).
  static uint64_t reduce(unsigned __int128 x) {
    uint64_t r = (static_cast<uint64_t>(x) & kPrime) + static_cast<uint64_t>(x >> 61);
    r = (r & kPrime) + (r >> 61);
    return r >= kPrime ? r - kPrime : r;
  }
  static unsigned __int128 mul(uint64_t x, uint64_t y) {
    return static_cast<unsigned __int128>(x) * y;
  }

  size_t window_;       // tokens per window (L)
  uint64_t c_ = 0;      // evaluation point B = c + d*i
  uint64_t d_ = 0;      //
  uint64_t neg_d_ = 0;  // p - d, so that subtraction becomes addition
  uint64_t e_ = 0;      // B^L = e + f*i, to drop the token leaving the window
  uint64_t neg_e_ = 0;  // p - e
  uint64_t neg_f_ = 0;  // p - f
  uint64_t f_ = 0;      //
};

template <typename Token>
Fingerprint BlendFingerprinter::of(std::span<const Token> tokens) const {
  const Token* w = tokens.data();
  Fingerprint f;
  of_many<1>(&w, &f);
  return f;
}

template <size_t N, typename Token>
void BlendFingerprinter::of_many(const Token* const* windows, Fingerprint* out) const {
  static_assert(std::is_same_v<Token, uint32_t> || std::is_same_v<Token, uint64_t>);
  uint64_t ha[N] = {}, hb[N] = {};
  for (size_t j = 0; j < window_; ++j) {
    for (size_t k = 0; k < N; ++k) {
      const uint64_t t = windows[k][j];
      // H <- H * B + x, with x = lo + hi*i.
      unsigned __int128 ra = mul(ha[k], c_) + mul(hb[k], neg_d_) + (t & 0xFFFFFFFFu);
      unsigned __int128 rb = mul(ha[k], d_) + mul(hb[k], c_);
      if constexpr (sizeof(Token) > 4) rb += t >> 32;
      ha[k] = reduce(ra);
      hb[k] = reduce(rb);
    }
  }
  for (size_t k = 0; k < N; ++k) out[k] = Fingerprint{ha[k], hb[k]};
}

template <typename Token>
inline void BlendFingerprinter::advance(uint64_t& ha, uint64_t& hb, uint64_t out,
                                        uint64_t in) const {
  // All terms made non-negative (p - x for -x), one reduction per part.
  unsigned __int128 ra =
      mul(ha, c_) + mul(hb, neg_d_) + mul(out & 0xFFFFFFFFu, neg_e_) + (in & 0xFFFFFFFFu);
  unsigned __int128 rb = mul(ha, d_) + mul(hb, c_) + mul(out & 0xFFFFFFFFu, neg_f_);
  if constexpr (sizeof(Token) > 4) {
    const uint64_t out_hi = out >> 32;
    ra += mul(out_hi, f_);  // -(out_hi*i)*(f*i) = +out_hi*f
    rb += mul(out_hi, neg_e_) + (in >> 32);
  }
  ha = reduce(ra);
  hb = reduce(rb);
}

template <typename Token, typename Sink>
void BlendFingerprinter::roll(std::span<const Token> tokens, size_t stride, Sink&& sink) const {
  static_assert(std::is_same_v<Token, uint32_t> || std::is_same_v<Token, uint64_t>);
  const size_t n = tokens.size();
  if (n < window_ || stride == 0) return;
  if (stride >= window_) {
    // Windows do not overlap: hash each directly, four at a time.
    size_t start = 0;
    for (; start + 3 * stride + window_ <= n; start += 4 * stride) {
      const Token* w[4] = {&tokens[start], &tokens[start + stride], &tokens[start + 2 * stride],
                           &tokens[start + 3 * stride]};
      Fingerprint f[4];
      of_many<4>(w, f);
      for (size_t k = 0; k < 4; ++k) sink(start + k * stride, f[k]);
    }
    for (; start + window_ <= n; start += stride) sink(start, of(tokens.subspan(start, window_)));
    return;
  }
  Fingerprint h = of(tokens.first(window_));
  sink(size_t{0}, h);
  uint64_t ha = h.a, hb = h.b;
  const size_t last = n - window_;
  size_t next_report = stride;
  for (size_t start = 1; start <= last; ++start) {
    advance<Token>(ha, hb, tokens[start - 1], tokens[start - 1 + window_]);
    if (start == next_report) {
      sink(start, Fingerprint{ha, hb});
      next_report += stride;
    }
  }
}

template <typename Token, typename Sink>
void BlendFingerprinter::roll_unordered(std::span<const Token> tokens, size_t stride,
                                        Sink&& sink) const {
  const size_t n = tokens.size();
  constexpr size_t kMinSteps = 512;  // below this, one chain is as good
  if (n < window_ || stride == 0 || stride >= window_ || n - window_ < 2 * kMinSteps) {
    roll(tokens, stride, sink);
    return;
  }
  // Chain A covers starts [0, mid), chain B starts [mid, last]; mid is a
  // multiple of stride so both report at the same step counts.
  const size_t last = n - window_;
  const size_t mid = (last + 1) / 2 / stride * stride;
  if (mid == 0) {
    roll(tokens, stride, sink);
    return;
  }
  const Token* w[2] = {&tokens[0], &tokens[mid]};
  Fingerprint f[2];
  of_many<2>(w, f);
  sink(size_t{0}, f[0]);
  sink(mid, f[1]);
  uint64_t aa = f[0].a, ab = f[0].b, ba = f[1].a, bb = f[1].b;
  const size_t steps_a = mid - 1;     // A advances to starts 1 .. mid-1
  const size_t steps_b = last - mid;  // B advances to starts mid+1 .. last
  const size_t both = steps_a < steps_b ? steps_a : steps_b;
  size_t next_report = stride;
  size_t s = 1;
  for (; s <= both; ++s) {
    advance<Token>(aa, ab, tokens[s - 1], tokens[s - 1 + window_]);
    advance<Token>(ba, bb, tokens[mid + s - 1], tokens[mid + s - 1 + window_]);
    if (s == next_report) {
      sink(s, Fingerprint{aa, ab});
      sink(mid + s, Fingerprint{ba, bb});
      next_report += stride;
    }
  }
  for (size_t t = s; t <= steps_a; ++t) {
    advance<Token>(aa, ab, tokens[t - 1], tokens[t - 1 + window_]);
    if (t % stride == 0) sink(t, Fingerprint{aa, ab});
  }
  for (size_t t = s; t <= steps_b; ++t) {
    advance<Token>(ba, bb, tokens[mid + t - 1], tokens[mid + t - 1 + window_]);
    if (t % stride == 0) sink(mid + t, Fingerprint{ba, bb});
  }
}

}  // namespace lmcache::core

#endif  // LMCACHE_CORE_BLEND_FINGERPRINT_H_
