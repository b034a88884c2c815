// GiB conversions used by the quota API: "GB" on the wire means GiB (2^30 bytes).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

namespace lmcache::core {

inline constexpr double kBytesPerGib = 1073741824.0;  // 2^30

// Largest quota we store: SQLite integers are signed 64-bit. 8 EiB is "unlimited" in practice.
inline constexpr uint64_t kMaxLimitBytes =
    static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

// floor(gib * 2^30). nullopt for a negative, NaN or infinite value, and for one whose byte count
// does not fit in 63 bits (a limit is never silently made smaller than asked).
inline std::optional<uint64_t> gib_to_bytes(double gib) {
  if (!std::isfinite(gib) || gib < 0) return std::nullopt;
  const double bytes = std::floor(gib * kBytesPerGib);      // scaling by 2^30 is exact
  if (bytes >= 9223372036854775808.0) return std::nullopt;  // 2^63
  return static_cast<uint64_t>(bytes);
}

// bytes / 2^30, the form reported back (limit_gb, usage_gb, total_gb).
inline double bytes_to_gib(uint64_t bytes) { return static_cast<double>(bytes) / kBytesPerGib; }

}  // namespace lmcache::core
