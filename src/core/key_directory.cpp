#include "core/key_directory.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <tuple>

namespace lmcache::core {
namespace {

constexpr uint8_t kHasL1 = 1;
constexpr uint8_t kHasL2 = 2;

}  // namespace

KeyDirectory::KeyDirectory() = default;
KeyDirectory::~KeyDirectory() = default;

void KeyDirectory::clear() {
  ledger_.clear();
  // Record ids start again at 0: a reused slot must read as "no placement".
  for (Slot* block : blocks_) {
    for (uint32_t i = 0; i < kBlockSize; ++i) block[i] = Slot{0, 0, kNone, 0, 0, 0};
  }
  spill_.clear();
  instances_ = StringInterner();
  backends_ = StringInterner();
  holders_.clear();
  free_holders_.clear();
  holder_ids_.clear();
  l1_records_.clear();
  module_bytes_.clear();
  bindings_.clear();
  keys_ = 0;
  placements_ = 0;
  std::fill(std::begin(keys_by_tier_), std::end(keys_by_tier_), 0);
  std::fill(std::begin(placements_by_tier_), std::end(placements_by_tier_), 0);
}

// ---------------------------------------------------------------------------------- Storage

KeyDirectory::Slot& KeyDirectory::slot_for(uint32_t id) {
  while ((id >> kBlockBits) >= blocks_.size()) {
    auto* block = static_cast<Slot*>(slab_.allocate(kBlockSize * sizeof(Slot)));
    for (uint32_t i = 0; i < kBlockSize; ++i) block[i] = Slot{0, 0, kNone, 0, 0, 0};
    blocks_.push_back(block);
  }
  return slot(id);
}

void KeyDirectory::load(uint32_t id, Placements& out) const {
  out.clear();
  if ((id >> kBlockBits) >= blocks_.size()) return;
  const Slot& s = slot(id);
  if (s.holder == kNone) return;
  out.push_back(Packed{s.size, s.holder, s.backend, s.flags});
  if (s.extra != 0) {
    const auto& more = spill_.find(id)->second;
    out.insert(out.end(), more.begin(), more.end());
  }
}

void KeyDirectory::save(uint32_t id, const Placements& placements) {
  Slot& s = slot_for(id);
  if (placements.empty()) {
    s = Slot{0, 0, kNone, 0, 0, 0};
  } else {
    const Packed& first = placements.front();
    s.size = first.size;
    s.holder = first.holder;
    s.backend = first.backend;
    s.flags = first.flags;
  }
  if (placements.size() > 1) {
    spill_[id].assign(placements.begin() + 1, placements.end());
    s.extra = 1;
  } else if (s.extra != 0) {
    spill_.erase(id);
    s.extra = 0;
  }
}

// ---------------------------------------------------------------------------------- Names

uint32_t KeyDirectory::acquire_holder(std::string_view instance_id, uint64_t incarnation) {
  uint32_t instance = kNone;
  if (auto found = instances_.find(instance_id)) {
    instance = *found;
    auto it = holder_ids_.find(std::make_pair(instance, incarnation));
    if (it != holder_ids_.end()) {
      ++holders_[it->second].refs;
      return it->second;
    }
    instances_.add_ref(instance);
  } else {
    instance = instances_.acquire(instance_id);
  }
  uint32_t id;
  if (!free_holders_.empty()) {
    id = free_holders_.back();
    free_holders_.pop_back();
  } else {
    id = static_cast<uint32_t>(holders_.size());
    holders_.emplace_back();
  }
  holders_[id] = Holder{instance, incarnation, 1};
  holder_ids_.emplace(std::make_pair(instance, incarnation), id);
  return id;
}

void KeyDirectory::release_holder(uint32_t holder) {
  Holder& h = holders_[holder];
  if (--h.refs != 0) return;
  holder_ids_.erase(std::make_pair(h.instance, h.incarnation));
  instances_.release(h.instance);
  h.instance = kNone;
  free_holders_.push_back(holder);
}

uint16_t KeyDirectory::acquire_backend(std::string_view backend) {
  // Backends are few (one per adapter type); they are kept for the process's life.
  if (auto found = backends_.find(backend)) return static_cast<uint16_t>(*found);
  if (backends_.capacity() >= std::numeric_limits<uint16_t>::max()) {
    throw std::length_error("KeyDirectory: too many backends");
  }
  return static_cast<uint16_t>(backends_.acquire(backend));
}

Placement KeyDirectory::expand(const Packed& p) const {
  const Holder& h = holders_[p.holder];
  return Placement{(p.flags & kL2) != 0 ? CacheTier::kL2 : CacheTier::kL1,
                   backends_.name(p.backend),
                   instances_.name(h.instance),
                   h.incarnation,
                   p.size,
                   (p.flags & kShared) != 0};
}

// ---------------------------------------------------------------------------------- Changes

void KeyDirectory::account(uint32_t id, const Packed& p, bool add) {
  const bool l2 = (p.flags & kL2) != 0;
  const bool shared = (p.flags & kShared) != 0;
  const uint32_t instance = instance_of(p);
  const uint64_t module =
      (uint64_t{shared ? kNone : instance} << 32) | (uint64_t{p.backend} << 1) | (l2 ? 1u : 0u);
  const size_t tier = l2 ? 1 : 0;
  if (add) {
    module_bytes_[module] += p.size;
    ++placements_;
    ++placements_by_tier_[tier];
    if (!l2) l1_records_[instance].insert(id);
    return;
  }
  auto it = module_bytes_.find(module);
  if (it != module_bytes_.end()) {
    it->second -= p.size;
    if (it->second == 0) module_bytes_.erase(it);
  }
  --placements_;
  --placements_by_tier_[tier];
  if (!l2) {
    // Called after the record was saved without `p`: the record stays indexed under the
    // instance while another L1 placement of it remains.
    Placements rest;
    load(id, rest);
    const bool other = std::any_of(rest.begin(), rest.end(), [&](const Packed& q) {
      return (q.flags & kL2) == 0 && instance_of(q) == instance;
    });
    if (!other) {
      auto records = l1_records_.find(instance);
      if (records != l1_records_.end()) {
        records->second.erase(id);
        if (records->second.empty()) l1_records_.erase(records);
      }
    }
  }
}

uint8_t KeyDirectory::presence(const Placements& placements) {
  uint8_t bits = 0;
  for (const Packed& p : placements) bits |= (p.flags & kL2) != 0 ? kHasL2 : kHasL1;
  return bits;
}

void KeyDirectory::note_presence(uint8_t before, uint8_t after) {
  if ((before == 0) != (after == 0)) {
    if (after != 0) {
      ++keys_;
    } else {
      --keys_;
    }
  }
  for (size_t tier = 0; tier < 2; ++tier) {
    const uint8_t bit = tier == 0 ? kHasL1 : kHasL2;
    if ((before & bit) == (after & bit)) continue;
    if ((after & bit) != 0) {
      ++keys_by_tier_[tier];
    } else {
      --keys_by_tier_[tier];
    }
  }
}

void KeyDirectory::settle(uint32_t id, const Placements& placements, bool l2_changed, bool touch,
                          std::string_view l2_owner) {
  bool tiers[2] = {false, false};
  uint64_t l2_bytes = 0;
  for (const Packed& p : placements) {
    const bool l2 = (p.flags & kL2) != 0;
    tiers[l2 ? 1 : 0] = true;
    if (l2) l2_bytes += p.size;
  }
  const bool was_l2 = ledger_.record_in_l2(id);
  if (tiers[1]) {
    if (touch) {
      ledger_.store_record(id, l2_bytes, l2_owner);
    } else if (l2_changed) {
      ledger_.resize_record(id, l2_bytes);
    }
  } else if (was_l2) {
    ledger_.detach_record(id);
  }
  if (placements.empty()) {
    bindings_.erase(ledger_.record_hash(id));
    ledger_.release_record(id);
    save(id, placements);
    slot(id).last_access = 0;
  } else {
    save(id, placements);
  }
}

void KeyDirectory::store(uint32_t id, const Packed& placement, std::string_view instance_id,
                         double ts) {
  Placements placements;
  load(id, placements);
  const uint8_t before = presence(placements);

  // Identity: (tier, backend, shared) plus the instance for a private placement. Seed-era L2
  // placements (backend "") are one per key whoever sends them, as the seed-era ledger was.
  const uint32_t instance = instance_of(placement);
  const bool seed = (placement.flags & kL2) != 0 && backends_.name(placement.backend).empty();
  auto same = [&](const Packed& p) {
    return p.flags == placement.flags && p.backend == placement.backend &&
           ((placement.flags & kShared) != 0 || seed || instance_of(p) == instance);
  };
  auto it = std::find_if(placements.begin(), placements.end(), same);
  if (it != placements.end()) {
    const Packed old = *it;
    *it = placement;
    save(id, placements);  // before account(): it reads the record as it now is
    account(id, old, false);
    account(id, placement, true);
    release_holder(old.holder);
  } else {
    placements.push_back(placement);
    save(id, placements);
    account(id, placement, true);
  }
  note_presence(before, presence(placements));
  const bool l2 = (placement.flags & kL2) != 0;
  settle(id, placements, l2, l2, instance_id);
  Slot& s = slot(id);
  s.last_access = std::max(s.last_access, ts);
}

void KeyDirectory::bind_tokens(std::string_view chunk_hash, std::span<const int64_t> tokens,
                               int64_t offset) {
  constexpr int64_t kMaxToken = std::numeric_limits<uint32_t>::max();
  if (std::any_of(tokens.begin(), tokens.end(), [](int64_t t) { return t < 0 || t > kMaxToken; })) {
    return;  // tokens outside uint32 leave the binding unchanged
  }
  auto binding = std::make_shared<TokenBinding>();
  binding->token_ids.assign(tokens.begin(), tokens.end());
  binding->token_offset = offset;
  auto it = bindings_.find(chunk_hash);
  if (it != bindings_.end()) {
    it->second = std::move(binding);
  } else {
    bindings_.emplace(std::string(chunk_hash), std::move(binding));
  }
}

template <typename Match>
bool KeyDirectory::remove_placements(uint32_t id, const Match& match) {
  Placements placements;
  load(id, placements);
  const uint8_t before = presence(placements);
  bool removed = false;
  bool l2_removed = false;
  for (size_t i = 0; i < placements.size();) {
    const Packed p = placements[i];
    if (!match(p)) {
      ++i;
      continue;
    }
    placements.erase(placements.begin() + static_cast<ptrdiff_t>(i));
    save(id, placements);
    account(id, p, false);
    release_holder(p.holder);
    removed = true;
    l2_removed = l2_removed || (p.flags & kL2) != 0;
  }
  if (removed) {
    note_presence(before, presence(placements));
    settle(id, placements, l2_removed, false, {});
  }
  return removed;
}

void KeyDirectory::apply_batch(const CacheEventBatch& batch) {
  const bool l2 = batch.tier == CacheTier::kL2;
  const uint8_t flags = static_cast<uint8_t>((l2 ? kL2 : 0) | (batch.shared ? kShared : 0));
  switch (batch.type) {
    case CacheEventType::kStore: {
      const uint16_t backend = acquire_backend(batch.backend);
      // One holder lookup per batch: each stored placement takes a reference, and the batch's
      // own reference is dropped at the end.
      const uint32_t holder = acquire_holder(batch.instance_id, batch.incarnation);
      for (const CacheEventEntry& entry : batch.entries) {
        const uint32_t id = ledger_.acquire_record(entry.key);
        ++holders_[holder].refs;
        store(id, Packed{entry.size_bytes, holder, backend, flags}, batch.instance_id, batch.ts);
        if (!entry.token_ids.empty()) {
          bind_tokens(entry.key.chunk_hash, entry.token_ids, entry.token_offset);
        }
      }
      release_holder(holder);
      break;
    }
    case CacheEventType::kDelete: {
      const auto backend = backends_.find(batch.backend);
      const auto seed_backend = backends_.find("");
      const auto instance = instances_.find(batch.instance_id);
      for (const CacheEventEntry& entry : batch.entries) {
        const uint32_t id = ledger_.find_record(entry.key);
        if (id == UsageLedger::kNoRecord) continue;
        remove_placements(id, [&](const Packed& p) {
          return (backend && p.flags == flags && p.backend == *backend &&
                  (batch.shared || (instance && instance_of(p) == *instance))) ||
                 (l2 && seed_backend && (p.flags & kL2) != 0 && p.backend == *seed_backend);
        });
      }
      break;
    }
    case CacheEventType::kAccess:
      for (const CacheEventEntry& entry : batch.entries) {
        const uint32_t id = ledger_.find_record(entry.key);
        if (id == UsageLedger::kNoRecord) continue;
        Slot& s = slot_for(id);
        s.last_access = std::max(s.last_access, batch.ts);
        if (l2) ledger_.touch_record(id);
      }
      break;
    case CacheEventType::kConfig:
      break;
  }
}

void KeyDirectory::fence_l1(std::string_view instance_id) {
  const auto instance = instances_.find(instance_id);
  if (!instance) return;
  auto found = l1_records_.find(*instance);
  if (found == l1_records_.end()) return;
  // account() edits the set: walk a copy.
  const std::vector<uint32_t> records(found->second.begin(), found->second.end());
  for (const uint32_t id : records) {
    remove_placements(
        id, [&](const Packed& p) { return (p.flags & kL2) == 0 && instance_of(p) == *instance; });
  }
}

// ---------------------------------------------------------------------------------- Seed era

void KeyDirectory::apply_seed_store(ObjectKeyView key, uint64_t bytes, std::string_view owner) {
  const uint32_t id = ledger_.acquire_record(key);
  const Packed placement{bytes, acquire_holder(owner, 0), acquire_backend(""), kL2};
  store(id, placement, owner, 0);
}

void KeyDirectory::apply_seed_delete(ObjectKeyView key) {
  const uint32_t id = ledger_.find_record(key);
  if (id == UsageLedger::kNoRecord) return;
  remove_placements(id, [](const Packed& p) { return (p.flags & kL2) != 0; });
}

// ---------------------------------------------------------------------------------- Reading

std::vector<Placement> KeyDirectory::placements(ObjectKeyView key) const {
  const uint32_t id = ledger_.find_record(key);
  std::vector<Placement> out;
  if (id != UsageLedger::kNoRecord) append_placements(id, out);
  return out;
}

void KeyDirectory::placements(std::span<const ObjectKeyView> keys, std::vector<Placement>& all,
                              std::vector<uint32_t>& first) const {
  all.clear();
  first.clear();
  first.reserve(keys.size() + 1);
  std::vector<uint32_t> ids(keys.size());
  ledger_.find_records(keys, ids);
  // The slots of found keys are fetched while the next ones are read: random keys of a large
  // directory miss the caches.
  constexpr size_t kAhead = 8;
  for (size_t i = 0; i < std::min(kAhead, ids.size()); ++i) prefetch_slot(ids[i]);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i + kAhead < ids.size()) prefetch_slot(ids[i + kAhead]);
    first.push_back(static_cast<uint32_t>(all.size()));
    if (ids[i] != UsageLedger::kNoRecord) append_placements(ids[i], all);
  }
  first.push_back(static_cast<uint32_t>(all.size()));
}

void KeyDirectory::prefetch_slot(uint32_t id) const {
  if (id != UsageLedger::kNoRecord && (id >> kBlockBits) < blocks_.size()) {
    __builtin_prefetch(&slot(id));
  }
}

void KeyDirectory::append_placements(uint32_t id, std::vector<Placement>& out) const {
  Placements packed;
  load(id, packed);
  const auto begin = static_cast<std::ptrdiff_t>(out.size());
  for (const Packed& p : packed) out.push_back(expand(p));
  std::sort(out.begin() + begin, out.end(), [](const Placement& a, const Placement& b) {
    return std::tie(a.instance_id, a.tier, a.backend) < std::tie(b.instance_id, b.tier, b.backend);
  });
}

std::optional<double> KeyDirectory::last_access(ObjectKeyView key) const {
  const uint32_t id = ledger_.find_record(key);
  if (id == UsageLedger::kNoRecord || (id >> kBlockBits) >= blocks_.size()) return std::nullopt;
  return slot(id).last_access;
}

std::shared_ptr<const TokenBinding> KeyDirectory::binding(std::string_view chunk_hash) const {
  auto it = bindings_.find(chunk_hash);
  return it == bindings_.end() ? nullptr : it->second;
}

std::pair<uint64_t, std::vector<DirectoryEntry>> KeyDirectory::list(const PlacementFilter& filter,
                                                                    uint64_t offset,
                                                                    uint64_t limit) const {
  std::pair<uint64_t, std::vector<DirectoryEntry>> out{0, {}};
  // Names the filter gives but nobody uses match nothing.
  std::optional<uint32_t> instance;
  std::optional<uint32_t> backend;
  if (!filter.instance_id.empty()) {
    instance = instances_.find(filter.instance_id);
    if (!instance) return out;
  }
  if (!filter.backend.empty()) {
    backend = backends_.find(filter.backend);
    if (!backend) return out;
  }
  auto keep = [&](const Packed& p) {
    if (filter.tier && ((p.flags & kL2) != 0) != (*filter.tier == CacheTier::kL2)) return false;
    if (instance && instance_of(p) != *instance) return false;
    return !backend || p.backend == *backend;
  };
  Placements packed;
  const uint32_t end =
      std::min<uint64_t>(ledger_.record_id_end(), uint64_t{blocks_.size()} << kBlockBits);
  for (uint32_t id = 0; id < end; ++id) {
    if (slot(id).holder == kNone) continue;
    load(id, packed);
    if (std::none_of(packed.begin(), packed.end(), keep)) continue;
    const uint64_t index = out.first++;
    if (index < offset || index - offset >= limit) continue;
    DirectoryEntry entry{ledger_.record_key(id), {}, slot(id).last_access};
    for (const Packed& p : packed) {
      if (keep(p)) entry.placements.push_back(expand(p));
    }
    std::sort(entry.placements.begin(), entry.placements.end(),
              [](const Placement& a, const Placement& b) {
                return std::tie(a.instance_id, a.tier, a.backend) <
                       std::tie(b.instance_id, b.tier, b.backend);
              });
    out.second.push_back(std::move(entry));
  }
  return out;
}

DirectoryCounts KeyDirectory::counts() const {
  DirectoryCounts counts;
  counts.keys = keys_;
  counts.placements = placements_;
  for (size_t tier = 0; tier < 2; ++tier) {
    counts.keys_by_tier[tier] = keys_by_tier_[tier];
    counts.placements_by_tier[tier] = placements_by_tier_[tier];
  }
  for (const auto& [instance, records] : l1_records_) {
    counts.l1_keys_by_instance.emplace_back(instances_.name(instance), records.size());
  }
  std::sort(counts.l1_keys_by_instance.begin(), counts.l1_keys_by_instance.end());
  return counts;
}

std::vector<ModuleUsage> KeyDirectory::used_bytes() const {
  std::vector<ModuleUsage> out;
  out.reserve(module_bytes_.size());
  for (const auto& [module, bytes] : module_bytes_) {
    const auto instance = static_cast<uint32_t>(module >> 32);
    const auto backend = static_cast<uint32_t>((module >> 1) & 0xFFFFu);
    const bool shared = instance == kNone;
    out.push_back(ModuleUsage{shared ? std::string() : instances_.name(instance),
                              (module & 1) != 0 ? CacheTier::kL2 : CacheTier::kL1,
                              backends_.name(backend), shared, bytes});
  }
  std::sort(out.begin(), out.end(), [](const ModuleUsage& a, const ModuleUsage& b) {
    return std::tie(a.instance_id, a.tier, a.backend, a.shared) <
           std::tie(b.instance_id, b.tier, b.backend, b.shared);
  });
  return out;
}

size_t KeyDirectory::memory_bytes() const {
  size_t total = ledger_.memory_bytes();
  total += blocks_.size() * kBlockSize * sizeof(Slot) +
           blocks_.capacity() * sizeof(void*);  // a pointer per block
  total += flat_table_bytes(spill_, sizeof(std::pair<uint32_t, std::vector<Packed>>));
  for (const auto& [id, more] : spill_) total += more.capacity() * sizeof(Packed);
  total += instances_.memory_bytes() + backends_.memory_bytes();
  total += holders_.capacity() * sizeof(Holder) + free_holders_.capacity() * sizeof(uint32_t);
  total +=
      flat_table_bytes(holder_ids_, sizeof(std::pair<std::pair<uint32_t, uint64_t>, uint32_t>));
  total += flat_table_bytes(l1_records_,
                            sizeof(std::pair<uint32_t, boost::unordered_flat_set<uint32_t>>));
  for (const auto& [instance, records] : l1_records_) {
    total += flat_table_bytes(records, sizeof(uint32_t));
  }
  total += flat_table_bytes(module_bytes_, sizeof(std::pair<uint64_t, uint64_t>));
  total += flat_table_bytes(bindings_,
                            sizeof(std::pair<std::string, std::shared_ptr<const TokenBinding>>));
  for (const auto& [hash, binding] : bindings_) {
    // make_shared: one block holding the control block and the binding.
    total += string_heap_bytes(hash) + sizeof(TokenBinding) + 16 +
             binding->token_ids.capacity() * sizeof(uint32_t);
  }
  return total;
}

// ---------------------------------------------------------------------------------- Checkpoint

void KeyDirectory::save(SnapshotWriter& out) const {
  InternedStringWriter strings;
  Placements placements;
  auto save_record = [&](uint32_t id) {
    const ObjectKeyView key = ledger_.record_view(id);
    out.str(key.chunk_hash);
    strings.put(out, key.model_name);
    out.u32(static_cast<uint32_t>(key.kv_rank));
    out.u32(key.object_group_id);
    strings.put(out, key.cache_salt);
    strings.put(out, ledger_.record_owner(id));
    out.f64(slot(id).last_access);
    load(id, placements);
    out.u32(static_cast<uint32_t>(placements.size()));
    for (const Packed& p : placements) {
      out.u8(p.flags);
      strings.put(out, backends_.name(p.backend));
      strings.put(out, instances_.name(holders_[p.holder].instance));
      out.u64(holders_[p.holder].incarnation);
      out.u64(p.size);
    }
  };
  // The record count first: keys in L2, then the records held only in L1.
  uint64_t records = ledger_.key_count();
  for (uint32_t id = 0; id < ledger_.record_id_end(); ++id) {
    if (ledger_.record_live(id) && !ledger_.record_in_l2(id)) ++records;
  }
  out.u64(records);
  ledger_.for_each_record_by_recency(save_record);
  for (uint32_t id = 0; id < ledger_.record_id_end(); ++id) {
    if (ledger_.record_live(id) && !ledger_.record_in_l2(id)) save_record(id);
  }
  out.u64(bindings_.size());
  for (const auto& [hash, binding] : bindings_) {
    out.str(hash);
    out.i64(binding->token_offset);
    out.u64(binding->token_ids.size());
    out.raw(binding->token_ids.data(), binding->token_ids.size() * sizeof(uint32_t));
  }
}

bool KeyDirectory::load(SnapshotReader& in) {
  InternedStringReader strings;
  // A record takes at least 40 bytes: hash length, model, rank, group, salt, owner, last_access
  // and the placement count.
  const uint64_t records = in.count(40);
  ledger_.reserve_records(static_cast<size_t>(records));
  for (uint64_t i = 0; i < records && in.ok(); ++i) {
    ObjectKeyView key;
    key.chunk_hash = in.str();
    key.model_name = strings.get(in);
    key.kv_rank = static_cast<int32_t>(in.u32());
    key.object_group_id = in.u32();
    key.cache_salt = strings.get(in);
    const std::string_view owner = strings.get(in);
    const double last_access = in.f64();
    const uint32_t count = in.u32();
    if (!in.ok() || count == 0 || count > in.remaining() / 25) return false;
    const uint32_t id = ledger_.acquire_record(key);
    for (uint32_t p = 0; p < count && in.ok(); ++p) {
      const uint8_t flags = in.u8();
      const std::string_view backend = strings.get(in);
      const std::string_view instance = strings.get(in);
      const uint64_t incarnation = in.u64();
      const uint64_t size = in.u64();
      if (!in.ok() || (flags & ~(kL2 | kShared)) != 0) return false;
      // store() makes an L2 key most recent with `owner` as its owner, so the records, saved in
      // LRU order, come back in that order.
      store(id,
            Packed{size, acquire_holder(instance, incarnation), acquire_backend(backend), flags},
            owner, last_access);
    }
  }
  const uint64_t bindings = in.count(20);
  for (uint64_t i = 0; i < bindings && in.ok(); ++i) {
    const std::string_view hash = in.str();
    auto binding = std::make_shared<TokenBinding>();
    binding->token_offset = in.i64();
    const uint64_t tokens = in.count(sizeof(uint32_t));
    const std::string_view raw = in.raw(tokens * sizeof(uint32_t));
    if (!in.ok()) return false;
    binding->token_ids.resize(tokens);
    // No copy without tokens: data() of an empty vector may be null, which memcpy must not get.
    if (!raw.empty()) std::memcpy(binding->token_ids.data(), raw.data(), raw.size());
    bindings_.insert_or_assign(std::string(hash), std::move(binding));
  }
  return in.ok();
}

}  // namespace lmcache::core
