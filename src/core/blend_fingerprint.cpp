#include "core/blend_fingerprint.h"

#include <random>
#include <stdexcept>

namespace lmcache::core {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A uniform value in [0, p) by rejection from 61 random bits.
template <typename Next>
uint64_t uniform_below_prime(Next&& next) {
  for (;;) {
    const uint64_t v = next() >> 3;
    if (v < BlendFingerprinter::kPrime) return v;
  }
}

}  // namespace

BlendFingerprinter::BlendFingerprinter(size_t window) : window_(window) {
  std::random_device rd;
  auto next = [&rd] { return (uint64_t{rd()} << 32) ^ uint64_t { rd() }; };
  c_ = uniform_below_prime(next);
  d_ = uniform_below_prime(next);
  finish_init();
}

BlendFingerprinter::BlendFingerprinter(size_t window, uint64_t seed) : window_(window) {
  init_from_seed(seed);
}

void BlendFingerprinter::init_from_seed(uint64_t seed) {
  uint64_t state = seed;
  auto next = [&state] { return splitmix64(state); };
  c_ = uniform_below_prime(next);
  d_ = uniform_below_prime(next);
  finish_init();
}

void BlendFingerprinter::finish_init() {
  if (window_ == 0) throw std::invalid_argument("BlendFingerprinter: window must be >= 1");
  neg_d_ = kPrime - d_;
  // B^L by square-and-multiply in GF(p^2).
  uint64_t ra = 1, rb = 0;    // result
  uint64_t ba = c_, bb = d_;  // base power
  for (size_t k = window_; k != 0; k >>= 1) {
    if (k & 1) {
      const uint64_t na = reduce(mul(ra, ba) + mul(rb, kPrime - bb));
      const uint64_t nb = reduce(mul(ra, bb) + mul(rb, ba));
      ra = na;
      rb = nb;
    }
    const uint64_t sa = reduce(mul(ba, ba) + mul(bb, kPrime - bb));
    const uint64_t sb = reduce(mul(ba, bb) + mul(bb, ba));
    ba = sa;
    bb = sb;
  }
  e_ = ra;
  f_ = rb;
  neg_e_ = kPrime - e_;
  neg_f_ = kPrime - f_;
}

}  // namespace lmcache::core
