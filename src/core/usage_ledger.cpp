#include "core/usage_ledger.h"

#include <cassert>
#include <cstring>
#include <functional>
#include <stdexcept>

namespace lmcache::core {
namespace {

constexpr uint64_t kMul = 0x9E3779B97F4A7C15ULL;

inline uint64_t mix(uint64_t h, uint64_t v) {
  h = (h ^ v) * kMul;
  return h ^ (h >> 29);
}

}  // namespace

// ---------------------------------------------------------------------------------- Index

size_t UsageLedger::hash_probe(const Probe& p) noexcept {
  uint64_t h = mix(p.hash.size(), (uint64_t{p.model} << 32) | p.salt);
  h = mix(h, (uint64_t{static_cast<uint32_t>(p.kv_rank)} << 32) | p.group);
  size_t i = 0;
  for (; i + 8 <= p.hash.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, p.hash.data() + i, 8);
    h = mix(h, w);
  }
  if (i < p.hash.size()) {
    uint64_t w = 0;
    std::memcpy(&w, p.hash.data() + i, p.hash.size() - i);
    h = mix(h, w);
  }
  return h;
}

std::string_view UsageLedger::hash_of(uint32_t id) const {
  const Record& r = rec(id);
  if (r.hash_len == kSpilledHash) return long_hashes_.find(id)->second;
  return {reinterpret_cast<const char*>(r.hash), r.hash_len};
}

size_t UsageLedger::IndexHash::operator()(uint32_t id) const noexcept {
  const Record& r = ledger->rec(id);
  return hash_probe({ledger->hash_of(id), r.model, r.salt, r.kv_rank, r.group});
}

size_t UsageLedger::IndexHash::operator()(const Probe& p) const noexcept { return hash_probe(p); }

bool UsageLedger::IndexEq::operator()(uint32_t a, uint32_t b) const noexcept {
  if (a == b) return true;
  const Record& r = ledger->rec(b);
  return (*this)(Probe{ledger->hash_of(b), r.model, r.salt, r.kv_rank, r.group}, a);
}

bool UsageLedger::IndexEq::operator()(const Probe& p, uint32_t id) const noexcept {
  const Record& r = ledger->rec(id);
  if (r.model != p.model || r.salt != p.salt || r.kv_rank != p.kv_rank || r.group != p.group) {
    return false;
  }
  if (r.hash_len != kSpilledHash) {
    return r.hash_len == p.hash.size() && std::memcmp(r.hash, p.hash.data(), r.hash_len) == 0;
  }
  return p.hash.size() > kInlineHash && ledger->hash_of(id) == p.hash;
}

// ---------------------------------------------------------------------------------- Ledger

UsageLedger::UsageLedger() : index_(0, IndexHash{this}, IndexEq{this}) {}

UsageLedger::~UsageLedger() = default;

void UsageLedger::clear() {
  // Records past next_unused_ are never read, and allocate() initialises a record it hands out.
  next_unused_ = 0;
  free_head_ = kNone;
  index_.clear();
  long_hashes_.clear();
  models_ = StringInterner();
  salt_names_ = StringInterner();
  owners_ = StringInterner();
  salts_.clear();
  total_bytes_ = 0;
  l2_keys_ = 0;
}

uint32_t UsageLedger::find_record(ObjectKeyView key) const {
  const auto model = models_.find(key.model_name);
  if (!model) return kNone;
  const auto salt = salt_names_.find(key.cache_salt);
  if (!salt) return kNone;
  auto it = index_.find(Probe{key.chunk_hash, *model, *salt, key.kv_rank, key.object_group_id});
  return it == index_.end() ? kNone : *it;
}

void UsageLedger::find_records(std::span<const ObjectKeyView> keys, std::span<uint32_t> out) const {
  // Views of one request usually point at the same bytes: compare the pointers first.
  auto same = [](std::string_view a, std::string_view b) {
    return (a.data() == b.data() && a.size() == b.size()) || a == b;
  };
  std::optional<uint32_t> model;
  std::optional<uint32_t> salt;
  for (size_t i = 0; i < keys.size(); ++i) {
    const ObjectKeyView& key = keys[i];
    if (i == 0 || !same(key.model_name, keys[i - 1].model_name)) {
      model = models_.find(key.model_name);
    }
    if (i == 0 || !same(key.cache_salt, keys[i - 1].cache_salt)) {
      salt = salt_names_.find(key.cache_salt);
    }
    if (!model || !salt) {
      out[i] = kNone;
      continue;
    }
    auto it = index_.find(Probe{key.chunk_hash, *model, *salt, key.kv_rank, key.object_group_id});
    out[i] = it == index_.end() ? kNone : *it;
  }
}

uint32_t UsageLedger::find(ObjectKeyView key) const {
  const uint32_t id = find_record(key);
  return id != kNone && rec(id).state != State::kDetached ? id : kNone;
}

uint32_t UsageLedger::allocate() {
  if (free_head_ != kNone) {
    const uint32_t id = free_head_;
    free_head_ = rec(id).next;
    return id;
  }
  if (next_unused_ == kNone) throw std::length_error("UsageLedger: too many keys");
  if ((next_unused_ >> kBlockBits) == blocks_.size()) {
    blocks_.push_back(static_cast<Record*>(slab_.allocate(kBlockSize * sizeof(Record))));
  }
  return next_unused_++;
}

void UsageLedger::free_record(uint32_t id) {
  Record& r = rec(id);
  r.state = State::kFree;
  r.next = free_head_;
  free_head_ = id;
}

ObjectKey UsageLedger::key_of(uint32_t id) const { return view_of(id).to_key(); }

std::string_view UsageLedger::record_owner(uint32_t id) const {
  const Record& r = rec(id);
  if (r.state == State::kDetached || r.owner == kNone) return {};
  return owners_.name(r.owner);
}

ObjectKeyView UsageLedger::view_of(uint32_t id) const {
  const Record& r = rec(id);
  return ObjectKeyView(hash_of(id), models_.name(r.model), r.kv_rank, r.group,
                       salt_names_.name(r.salt));
}

void UsageLedger::unlink(List& list, uint32_t id) {
  Record& r = rec(id);
  if (r.prev != kNone) {
    rec(r.prev).next = r.next;
  } else {
    list.head = r.next;
  }
  if (r.next != kNone) {
    rec(r.next).prev = r.prev;
  } else {
    list.tail = r.prev;
  }
  r.prev = r.next = kNone;
  --list.size;
}

void UsageLedger::push_back(List& list, uint32_t id) {
  Record& r = rec(id);
  r.prev = list.tail;
  r.next = kNone;
  if (list.tail != kNone) {
    rec(list.tail).next = id;
  } else {
    list.head = id;
  }
  list.tail = id;
  ++list.size;
}

void UsageLedger::push_front(List& list, uint32_t id) {
  Record& r = rec(id);
  r.prev = kNone;
  r.next = list.head;
  if (list.head != kNone) {
    rec(list.head).prev = id;
  } else {
    list.tail = id;
  }
  list.head = id;
  ++list.size;
}

void UsageLedger::touch(uint32_t id) {
  Record& r = rec(id);
  SaltState& salt = salts_[r.salt];
  if (r.state == State::kInFlight) {
    unlink(salt.in_flight, id);
    r.state = State::kLru;
  } else if (salt.lru.tail == id) {
    return;
  } else {
    unlink(salt.lru, id);
  }
  push_back(salt.lru, id);
}

void UsageLedger::apply_store(ObjectKeyView key, uint64_t bytes, std::string_view owner) {
  store_record(acquire_record(key), bytes, owner);
}

uint32_t UsageLedger::acquire_record(ObjectKeyView key) {
  const auto model_id = models_.find(key.model_name);
  const auto salt_id = salt_names_.find(key.cache_salt);
  if (model_id && salt_id) {
    auto it =
        index_.find(Probe{key.chunk_hash, *model_id, *salt_id, key.kv_rank, key.object_group_id});
    if (it != index_.end()) return *it;
  }

  const uint32_t id = allocate();
  Record& r = rec(id);
  r.bytes = 0;
  r.in_flight_until = 0;
  r.prev = r.next = kNone;
  // Reuse the ids found above: one string lookup per field per store.
  if (model_id) {
    models_.add_ref(*model_id);
    r.model = *model_id;
  } else {
    r.model = models_.acquire(key.model_name);
  }
  if (salt_id) {
    salt_names_.add_ref(*salt_id);
    r.salt = *salt_id;
  } else {
    r.salt = salt_names_.acquire(key.cache_salt);
  }
  r.kv_rank = key.kv_rank;
  r.group = key.object_group_id;
  r.owner = kNone;
  r.state = State::kDetached;
  std::memset(r.hash, 0, kInlineHash);
  std::memcpy(r.hash, key.chunk_hash.data(), std::min(key.chunk_hash.size(), kInlineHash));
  if (key.chunk_hash.size() > kInlineHash) {
    r.hash_len = kSpilledHash;
    long_hashes_.emplace(id, key.chunk_hash);
  } else {
    r.hash_len = static_cast<uint8_t>(key.chunk_hash.size());
  }
  index_.insert(id);
  if (r.salt >= salts_.size()) salts_.resize(r.salt + 1);
  return id;
}

void UsageLedger::store_record(uint32_t id, uint64_t bytes, std::string_view owner) {
  Record& r = rec(id);
  SaltState& salt = salts_[r.salt];
  if (r.state == State::kDetached) {
    r.bytes = 0;
    r.state = State::kLru;
    push_back(salt.lru, id);
    ++l2_keys_;
  } else {
    touch(id);
  }
  salt.bytes = salt.bytes - r.bytes + bytes;
  total_bytes_ = total_bytes_ - r.bytes + bytes;
  r.bytes = bytes;
  if (!owner.empty() && (r.owner == kNone || owners_.name(r.owner) != owner)) {
    const uint32_t new_owner = owners_.acquire(owner);
    if (r.owner != kNone) owners_.release(r.owner);
    r.owner = new_owner;
  }
}

void UsageLedger::resize_record(uint32_t id, uint64_t bytes) {
  Record& r = rec(id);
  if (r.state == State::kDetached) return;
  SaltState& salt = salts_[r.salt];
  salt.bytes = salt.bytes - r.bytes + bytes;
  total_bytes_ = total_bytes_ - r.bytes + bytes;
  r.bytes = bytes;
}

bool UsageLedger::touch_record(uint32_t id) {
  if (rec(id).state == State::kDetached) return false;
  touch(id);
  return true;
}

bool UsageLedger::record_in_l2(uint32_t id) const {
  const State state = rec(id).state;
  return state == State::kLru || state == State::kInFlight;
}

void UsageLedger::detach_record(uint32_t id) {
  Record& r = rec(id);
  if (r.state == State::kDetached) return;
  SaltState& salt = salts_[r.salt];
  unlink(list_of(r), id);
  salt.bytes -= r.bytes;
  total_bytes_ -= r.bytes;
  r.bytes = 0;
  if (r.owner != kNone) owners_.release(r.owner);
  r.owner = kNone;
  r.state = State::kDetached;
  --l2_keys_;
}

void UsageLedger::release_record(uint32_t id) {
  detach_record(id);
  Record& r = rec(id);
  index_.erase(id);  // hashes the record: do it before the record is released
  if (r.hash_len == kSpilledHash) long_hashes_.erase(id);
  models_.release(r.model);
  salt_names_.release(r.salt);
  free_record(id);
}

bool UsageLedger::apply_lookup(ObjectKeyView key) {
  const uint32_t id = find(key);
  if (id == kNone) return false;
  touch(id);
  return true;
}

bool UsageLedger::apply_delete(ObjectKeyView key) {
  const uint32_t id = find(key);
  if (id == kNone) return false;
  release_record(id);
  return true;
}

uint64_t UsageLedger::usage_bytes(std::string_view cache_salt) const {
  const auto salt = salt_names_.find(cache_salt);
  return salt ? salts_[*salt].bytes : 0;
}

uint64_t UsageLedger::key_count(std::string_view cache_salt) const {
  const auto salt = salt_names_.find(cache_salt);
  return salt ? salts_[*salt].lru.size + salts_[*salt].in_flight.size : 0;
}

std::vector<SaltUsage> UsageLedger::salts_with_usage() const {
  std::vector<SaltUsage> out;
  out.reserve(salt_names_.live());
  for (uint32_t id = 0; id < salts_.size(); ++id) {
    const SaltState& s = salts_[id];
    const uint64_t keys = s.lru.size + s.in_flight.size;
    if (keys == 0) continue;
    out.push_back({salt_names_.name(id), s.bytes, keys, s.in_flight.size});
  }
  return out;
}

bool UsageLedger::contains(ObjectKeyView key) const { return find(key) != kNone; }

std::optional<uint64_t> UsageLedger::size_of(ObjectKeyView key) const {
  const uint32_t id = find(key);
  if (id == kNone) return std::nullopt;
  return rec(id).bytes;
}

std::optional<std::string> UsageLedger::owner_of(ObjectKeyView key) const {
  const uint32_t id = find(key);
  if (id == kNone) return std::nullopt;
  const uint32_t owner = rec(id).owner;
  return owner == kNone ? std::string() : owners_.name(owner);
}

bool UsageLedger::in_flight(ObjectKeyView key) const {
  const uint32_t id = find(key);
  return id != kNone && rec(id).state == State::kInFlight;
}

std::vector<ObjectKey> UsageLedger::lru_keys(std::string_view cache_salt, size_t max) const {
  std::vector<ObjectKey> out;
  const auto salt = salt_names_.find(cache_salt);
  if (!salt) return out;
  for (uint32_t id = salts_[*salt].lru.head; id != kNone && out.size() < max; id = rec(id).next) {
    out.push_back(key_of(id));
  }
  return out;
}

size_t UsageLedger::expire_in_flight(std::string_view cache_salt, SteadyTime now) {
  const auto salt_id = salt_names_.find(cache_salt);
  if (!salt_id) return 0;
  SaltState& salt = salts_[*salt_id];
  const int64_t now_ticks = now.time_since_epoch().count();
  // Detach the expired prefix of the in-flight list, then splice it before the LRU head.
  List expired;
  while (salt.in_flight.head != kNone && rec(salt.in_flight.head).in_flight_until <= now_ticks) {
    const uint32_t id = salt.in_flight.head;
    unlink(salt.in_flight, id);
    rec(id).state = State::kLru;
    push_back(expired, id);
  }
  if (expired.size == 0) return 0;
  rec(expired.tail).next = salt.lru.head;
  if (salt.lru.head != kNone) {
    rec(salt.lru.head).prev = expired.tail;
  } else {
    salt.lru.tail = expired.tail;
  }
  salt.lru.head = expired.head;
  salt.lru.size += expired.size;
  return expired.size;
}

size_t UsageLedger::take_victims(std::string_view cache_salt, size_t count, SteadyTime until,
                                 std::vector<TrackedKey>& out, const PinnedKeys* pinned) {
  const auto salt_id = salt_names_.find(cache_salt);
  if (!salt_id) return 0;
  SaltState& salt = salts_[*salt_id];
  const int64_t until_ticks = until.time_since_epoch().count();
  const bool skip_pinned = pinned != nullptr && !pinned->empty();
  size_t taken = 0;
  uint32_t id = salt.lru.head;
  while (taken < count && id != kNone) {
    Record& r = rec(id);
    const uint32_t more_recent = r.next;
    if (skip_pinned && pinned->contains(ObjectKeyView(hash_of(id), models_.name(r.model), r.kv_rank,
                                                      r.group, salt_names_.name(r.salt)))) {
      id = more_recent;
      continue;
    }
    unlink(salt.lru, id);
    r.state = State::kInFlight;
    r.in_flight_until = until_ticks;
    push_back(salt.in_flight, id);
    out.push_back({key_of(id), r.owner == kNone ? std::string() : owners_.name(r.owner)});
    ++taken;
    id = more_recent;
  }
  return taken;
}

bool UsageLedger::release(ObjectKeyView key) {
  const uint32_t id = find(key);
  if (id == kNone || rec(id).state != State::kInFlight) return false;
  Record& r = rec(id);
  SaltState& salt = salts_[r.salt];
  unlink(salt.in_flight, id);
  r.state = State::kLru;
  push_front(salt.lru, id);
  return true;
}

// Both overloads walk backwards and push to the front, so the first given ends least recent.
size_t UsageLedger::release_in_flight(std::span<const ObjectKey> keys) {
  size_t released = 0;
  for (auto it = keys.rbegin(); it != keys.rend(); ++it) released += release(*it);
  return released;
}

size_t UsageLedger::release_in_flight(std::span<const TrackedKey> victims) {
  size_t released = 0;
  for (auto it = victims.rbegin(); it != victims.rend(); ++it) released += release(it->key);
  return released;
}

size_t UsageLedger::memory_bytes() const {
  size_t total = blocks_.size() * kBlockSize * sizeof(Record) +
                 blocks_.capacity() * sizeof(void*);  // a pointer per block
  total += flat_table_bytes(index_, sizeof(uint32_t));
  total += flat_table_bytes(long_hashes_, sizeof(std::pair<uint32_t, std::string>));
  for (const auto& [id, hash] : long_hashes_) total += string_heap_bytes(hash);
  total += models_.memory_bytes() + salt_names_.memory_bytes() + owners_.memory_bytes();
  total += salts_.capacity() * sizeof(SaltState);
  return total;
}

}  // namespace lmcache::core
