#include "core/snapshot_stream.h"

#include <bit>
#include <cstring>
#include <utility>

namespace lmcache::core {

static_assert(std::endian::native == std::endian::little,
              "snapshots are written in the host's byte order, which must be little-endian");

SnapshotWriter::SnapshotWriter(Flush flush, size_t chunk)
    : flush_(std::move(flush)), chunk_(chunk) {
  buffer_.reserve(chunk_ + 64);
}

void SnapshotWriter::u32(uint32_t v) { raw(&v, sizeof v); }
void SnapshotWriter::u64(uint64_t v) { raw(&v, sizeof v); }
void SnapshotWriter::f64(double v) { raw(&v, sizeof v); }

void SnapshotWriter::str(std::string_view s) {
  u32(static_cast<uint32_t>(s.size()));
  raw(s.data(), s.size());
}

void SnapshotWriter::raw(const void* data, size_t size) {
  if (!ok_) return;
  buffer_.append(static_cast<const char*>(data), size);
  written_ += size;
  if (buffer_.size() >= chunk_) flush_buffer();
}

void SnapshotWriter::flush_buffer() {
  if (ok_ && !buffer_.empty() && !flush_(buffer_)) ok_ = false;
  buffer_.clear();
}

bool SnapshotWriter::finish() {
  flush_buffer();
  return ok_;
}

std::string_view SnapshotReader::raw(size_t size) {
  if (!ok_ || size > remaining()) {
    ok_ = false;
    return {};
  }
  std::string_view out = bytes_.substr(pos_, size);
  pos_ += size;
  return out;
}

namespace {
template <typename T>
T read_fixed(SnapshotReader& reader) {
  T v{};
  const std::string_view bytes = reader.raw(sizeof(T));
  if (bytes.size() == sizeof(T)) std::memcpy(&v, bytes.data(), sizeof(T));
  return v;
}
}  // namespace

uint8_t SnapshotReader::u8() { return read_fixed<uint8_t>(*this); }
uint32_t SnapshotReader::u32() { return read_fixed<uint32_t>(*this); }
uint64_t SnapshotReader::u64() { return read_fixed<uint64_t>(*this); }
double SnapshotReader::f64() { return read_fixed<double>(*this); }

std::string_view SnapshotReader::str() {
  const uint32_t size = u32();
  return raw(size);
}

uint64_t SnapshotReader::count(size_t min_item_bytes) {
  const uint64_t n = u64();
  if (!ok_ || (min_item_bytes > 0 && n > remaining() / min_item_bytes)) {
    ok_ = false;
    return 0;
  }
  return n;
}

void InternedStringWriter::put(SnapshotWriter& out, std::string_view s) {
  const auto it = ids_.find(s);
  if (it != ids_.end()) {
    out.u32(it->second);
    return;
  }
  const auto id = static_cast<uint32_t>(ids_.size());
  ids_.emplace(std::string(s), id);
  out.u32(id);
  out.str(s);
}

std::string_view InternedStringReader::get(SnapshotReader& in) {
  const uint32_t id = in.u32();
  if (!in.ok()) return {};
  if (id < strings_.size()) return strings_[id];
  if (id != strings_.size()) {
    in.fail();
    return {};
  }
  strings_.push_back(in.str());
  return strings_.back();
}

}  // namespace lmcache::core
