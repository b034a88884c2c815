// RecentStrings: the strings a one-pass event decoder keeps in its output, each checked and
// copied once while it recurs.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace lmcache::http {

// Remembers the last few distinct strings kept (model names, salts, ids: a batch mixes a few
// tenants' salts) so that a recurring one is neither checked nor copied again. A string is only
// ever matched by content, so the views handed out are equal to the text given.
class RecentStrings {
 public:
  // Sets `out` to a copy of `text` in `storage` (any type with keep(std::string_view) returning a
  // view that lives as long as the storage) and returns true; or returns false, leaving `out`
  // alone, when `check(text)` refuses it. `check` runs only when `text` is not among the recent
  // strings, so it must depend on the text alone.
  template <typename Storage, typename Check>
  bool keep(std::string_view text, Storage& storage, Check check, std::string_view& out) {
    for (size_t i = 0; i < size_; ++i) {
      if (kept_[i] == text) {
        out = kept_[i];
        return true;
      }
    }
    if (!check(text)) return false;
    out = storage.keep(text);
    if (size_ < kSlots) {
      kept_[size_++] = out;
    } else {
      kept_[next_] = out;
      next_ = (next_ + 1) % kSlots;
    }
    return true;
  }

  // Forgets every string (before decoding into another storage).
  void reset() { size_ = next_ = 0; }

 private:
  static constexpr size_t kSlots = 8;
  std::array<std::string_view, kSlots> kept_;
  size_t size_ = 0;
  size_t next_ = 0;  // the slot replaced next once all are used
};

}  // namespace lmcache::http
