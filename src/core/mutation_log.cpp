#include "core/mutation_log.h"

#include <utility>

namespace lmcache::core {
namespace {

constexpr size_t kFrameHeader = 8 + 1 + 4;

void put_le(std::string& out, uint64_t value, size_t width) {
  for (size_t i = 0; i < width; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xffU));
}

uint64_t get_le(std::string_view bytes, size_t width) {
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) {
    value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  }
  return value;
}

}  // namespace

bool is_mutation_kind(uint8_t value) {
  return value >= static_cast<uint8_t>(MutationKind::kCacheEventRecord) &&
         value <= static_cast<uint8_t>(MutationKind::kInstanceTimedOut);
}

MutationLog::MutationLog(size_t max_bytes) : max_bytes_(max_bytes) {}

void MutationLog::clear() {
  ring_.clear();
  bytes_ = 0;
  last_seq_.store(0, std::memory_order_release);
}

void MutationLog::begin_epoch(int64_t epoch) {
  MutexLock lock(mu_);
  clear();
  epoch_ = epoch;
  active_.store(true, std::memory_order_release);
}

void MutationLog::end_epoch() {
  MutexLock lock(mu_);
  active_.store(false, std::memory_order_release);
  clear();
  epoch_ = 0;
}

bool MutationLog::serves(int64_t epoch) const {
  MutexLock lock(mu_);
  return active_.load(std::memory_order_relaxed) && epoch == epoch_;
}

uint64_t MutationLog::append(MutationKind kind, std::string payload) {
  if (!active()) return 0;  // the usual case outside HA mode: nothing to allocate
  auto entry = std::make_shared<Mutation>();
  entry->kind = kind;
  entry->payload = std::move(payload);
  const size_t size = entry->payload.size();
  // Dropped entries are freed after the lock is released.
  std::vector<std::shared_ptr<const Mutation>> dropped;
  MutexLock lock(mu_);
  if (!active_.load(std::memory_order_relaxed)) return 0;
  entry->seq = last_seq_.load(std::memory_order_relaxed) + 1;
  ring_.push_back(entry);
  bytes_ += size;
  while (bytes_ > max_bytes_ && ring_.size() > 1) {
    bytes_ -= ring_.front()->payload.size();
    dropped.push_back(std::move(ring_.front()));
    ring_.pop_front();
    ++dropped_;
  }
  last_seq_.store(entry->seq, std::memory_order_release);
  return entry->seq;
}

MutationLog::Read MutationLog::read(int64_t epoch, uint64_t after, size_t max_bytes) const {
  Read out;
  MutexLock lock(mu_);
  out.epoch = epoch_;
  out.last = last_seq_.load(std::memory_order_relaxed);
  out.first = ring_.empty() ? 0 : ring_.front()->seq;
  if (!active_.load(std::memory_order_relaxed) || epoch != epoch_) {
    out.status = Read::Status::kWrongEpoch;
    return out;
  }
  if (after > out.last) {
    out.status = Read::Status::kAhead;
    return out;
  }
  if (after == out.last) return out;
  if (after + 1 < out.first) {
    out.status = Read::Status::kBehind;
    return out;
  }
  size_t bytes = 0;
  for (size_t i = after + 1 - out.first;
       i < ring_.size() && (out.entries.empty() || bytes < max_bytes); ++i) {
    bytes += ring_[i]->payload.size();
    out.entries.push_back(ring_[i]);
  }
  return out;
}

MutationLog::Counters MutationLog::counters() const {
  MutexLock lock(mu_);
  return Counters{ring_.size(), bytes_, dropped_};
}

void append_mutation_frame(std::string& out, const Mutation& mutation) {
  put_le(out, mutation.seq, 8);
  out.push_back(static_cast<char>(mutation.kind));
  put_le(out, mutation.payload.size(), 4);
  out.append(mutation.payload);
}

std::optional<std::vector<Mutation>> decode_mutation_frames(std::string_view bytes) {
  std::vector<Mutation> out;
  while (!bytes.empty()) {
    if (bytes.size() < kFrameHeader) return std::nullopt;
    Mutation mutation;
    mutation.seq = get_le(bytes, 8);
    const auto kind = static_cast<uint8_t>(bytes[8]);
    if (!is_mutation_kind(kind)) return std::nullopt;
    mutation.kind = static_cast<MutationKind>(kind);
    const uint64_t size = get_le(bytes.substr(9), 4);
    bytes.remove_prefix(kFrameHeader);
    if (size > bytes.size()) return std::nullopt;
    mutation.payload.assign(bytes.substr(0, size));
    bytes.remove_prefix(size);
    out.push_back(std::move(mutation));
  }
  return out;
}

}  // namespace lmcache::core
