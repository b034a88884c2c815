// SnapshotWriter and SnapshotReader: the byte form of the coordinator's derived state in a
// checkpoint (see app/checkpointer.h). Fixed-width little-endian integers, IEEE doubles and
// length-prefixed strings; no framing or checksums (the checkpoint file adds those).
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/string_hash.h"

namespace lmcache::core {

// Appends values to a buffer and hands the buffer to `flush` whenever it holds `chunk` bytes
// (and at finish()). A flush that returns false marks the writer failed; later writes are then
// dropped, so a caller checks ok() once at the end.
class SnapshotWriter {
 public:
  using Flush = std::function<bool(std::string_view bytes)>;

  explicit SnapshotWriter(Flush flush, size_t chunk = size_t{1} << 20);
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  void u8(uint8_t v) { raw(&v, 1); }
  void u32(uint32_t v);
  void u64(uint64_t v);
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f64(double v);
  void boolean(bool v) { u8(v ? 1 : 0); }
  // A u32 length, then the bytes.
  void str(std::string_view s);
  void raw(const void* data, size_t size);

  // Flushes what is buffered. Returns ok().
  bool finish();
  bool ok() const { return ok_; }
  // Bytes written so far (flushed or buffered).
  uint64_t written() const { return written_; }

 private:
  void flush_buffer();

  Flush flush_;
  size_t chunk_;
  std::string buffer_;
  uint64_t written_ = 0;
  bool ok_ = true;
};

// Reads what a SnapshotWriter wrote, from bytes that outlive the reader. A read past the end
// or a length that does not fit marks the reader failed and yields zeros and empty strings, so
// a loader checks ok() at the points where a bad value could do harm (sizes it allocates by)
// and at the end.
class SnapshotReader {
 public:
  explicit SnapshotReader(std::string_view bytes) : bytes_(bytes) {}

  uint8_t u8();
  uint32_t u32();
  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  double f64();
  bool boolean() { return u8() != 0; }
  // A view into the bytes given to the constructor.
  std::string_view str();
  std::string_view raw(size_t size);

  // A count of items that each take at least `min_item_bytes`: fails the reader (and returns 0)
  // when fewer bytes remain than that many items need, so a corrupt count cannot make a loader
  // reserve or loop without bound.
  uint64_t count(size_t min_item_bytes);

  bool ok() const { return ok_; }
  // Marks the reader failed (a loader found a value it cannot accept).
  void fail() { ok_ = false; }
  bool at_end() const { return pos_ == bytes_.size(); }
  size_t remaining() const { return bytes_.size() - pos_; }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Strings that repeat (model names, salts, owners) written once: the first time as a new id
// followed by the string, later as the id alone. Pair with an InternedStringReader reading the
// same sequence.
class InternedStringWriter {
 public:
  void put(SnapshotWriter& out, std::string_view s);

 private:
  boost::unordered_flat_map<std::string, uint32_t, StringHash, StringEqual> ids_;
};

class InternedStringReader {
 public:
  // The string, a view that lives as long as the reader's bytes; "" and a failed reader on an
  // id that was never introduced.
  std::string_view get(SnapshotReader& in);

 private:
  std::vector<std::string_view> strings_;
};

}  // namespace lmcache::core
