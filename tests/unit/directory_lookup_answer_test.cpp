// The `/directory/lookup` answer written as text against the JSON tree the route used to build:
// byte for byte the same, for odd strings (quotes, non-ASCII, ill-formed UTF-8, repaired the
// same way), packed ranks, placements and bindings shared by the ranks of a chunk. And the route
// answers a body read by the fast reader exactly as the same body read through the tree.
#include "http/directory_lookup_answer.h"

#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/blend_index.h"
#include "core/l2_accounting.h"
#include "core/token_chain_hasher.h"
#include "http/directory_routes.h"
#include "http/json_response.h"
#include "http/router.h"
#include "wire/object_key_codec.h"

namespace lmcache::http {
namespace {
namespace json = boost::json;
using core::ObjectKey;
using core::ObjectKeyView;
using core::Placement;

// The answer as the route built it before it wrote text: a tree printed by json_response.
std::string tree_answer(size_t chunks, const std::vector<ObjectKey>& keys,
                        const std::vector<std::vector<Placement>>& placements,
                        const std::vector<const core::TokenBinding*>& bindings) {
  json::array results;
  for (size_t i = 0; i < keys.size(); ++i) {
    json::array tokens;
    if (bindings[i] != nullptr) {
      for (const uint32_t id : bindings[i]->token_ids) tokens.emplace_back(id);
    }
    json::array listed;
    for (const Placement& p : placements[i]) {
      listed.push_back(json::object{{"instance_id", p.instance_id},
                                    {"incarnation", p.incarnation},
                                    {"tier", core::cache_tier_name(p.tier)},
                                    {"backend", p.backend},
                                    {"size_bytes", p.size_bytes},
                                    {"shared", p.shared}});
    }
    results.push_back(json::object{{"key", wire::encode_object_key(keys[i])},
                                   {"placements", std::move(listed)},
                                   {"token_ids", std::move(tokens)}});
  }
  return json_response(beast_http::status::ok,
                       json::object{{"chunks", chunks}, {"results", std::move(results)}})
      .body();
}

TEST(DirectoryLookupAnswerTest, TextIsTheTreeByteForByte) {
  std::mt19937 rng(5);
  const char* models[] = {"meta-llama/Llama-3.1-8B", "q\"uote\\d", "caf\xC3\xA9", "bad\xFF",
                          "ctl\x01"};
  const char* salts[] = {"", "tenant-0", "\xE2\x82\xAC", "x\xC3"};
  auto binding_a = std::make_shared<core::TokenBinding>();
  binding_a->token_ids = {0, 1, 4294967295u, 128255};
  auto binding_b = std::make_shared<core::TokenBinding>();  // bound, with no tokens
  std::vector<ObjectKey> keys;
  core::L2Accounting::KeysLookup found;
  std::vector<std::vector<Placement>> per_key;
  for (int i = 0; i < 200; ++i) {
    std::string hash(i % 7 == 0 ? 16 : 32, '\0');
    for (char& c : hash) c = static_cast<char>(rng());
    const int32_t rank = i % 3 == 0 ? core::kv_rank_from_wire(core::pack_kv_rank(200, 199))
                                    : static_cast<int32_t>(rng() % 16);
    keys.push_back(ObjectKey{hash, models[(i / 4) % 5], rank, static_cast<uint32_t>(i % 2 * 7),
                             salts[(i / 3) % 4]});
    std::vector<Placement> placements;
    for (uint32_t p = 0; p < rng() % 3; ++p) {
      placements.push_back(Placement{p % 2 == 0 ? core::CacheTier::kL2 : core::CacheTier::kL1,
                                     p == 0 ? "fs" : "cpu\xFE", "mp-\xC3\xA9" + std::to_string(p),
                                     rng(), rng() * uint64_t{1000}, p == 1});
    }
    found.first_placement.push_back(static_cast<uint32_t>(found.all_placements.size()));
    found.all_placements.insert(found.all_placements.end(), placements.begin(), placements.end());
    per_key.push_back(std::move(placements));
    const int kind = (i / 8) % 3;  // runs of 8 keys, as the ranks of a chunk
    found.bindings.push_back(kind == 0 ? nullptr : kind == 1 ? binding_a.get() : binding_b.get());
  }
  found.first_placement.push_back(static_cast<uint32_t>(found.all_placements.size()));
  const std::vector<ObjectKeyView> views(keys.begin(), keys.end());
  EXPECT_EQ(lookup_answer_text(keys.size(), views, found),
            tree_answer(keys.size(), keys, per_key, found.bindings));
  const std::vector<ObjectKey> none;
  core::L2Accounting::KeysLookup nothing;
  nothing.first_placement = {0};
  EXPECT_EQ(lookup_answer_text(0, {}, nothing), tree_answer(0, none, {}, {}));
}

HttpResponse post_lookup(const Router& router, std::string body) {
  HttpRequest request{beast_http::verb::post, "/directory/lookup", 11};
  request.body() = std::move(body);
  request.prepare_payload();
  std::optional<HttpResponse> answer;
  router.dispatch(std::move(request), [&](HttpResponse response) { answer = std::move(response); });
  EXPECT_TRUE(answer.has_value());
  return answer ? std::move(*answer) : HttpResponse{};
}

TEST(DirectoryLookupAnswerTest, FastAndTreeReadBodiesGetTheSameAnswer) {
  constexpr size_t kChunk = 4;
  constexpr int64_t kWorld = 3;
  const core::TokenChainHasher hasher(kChunk);
  core::L2Accounting l2{core::EvictionConfig{}};
  const core::BlendIndex blend(kChunk, 1);
  Router router;
  add_directory_routes(router, l2, blend, hasher);

  std::vector<uint32_t> tokens(6 * kChunk + 2);  // 6 full chunks and a partial one
  std::mt19937 rng(9);
  for (uint32_t& token : tokens) token = static_cast<uint32_t>(rng());
  const auto hashes = hasher.chunk_hashes(tokens);
  const auto keys = *core::expand_object_keys(hashes, "m", kWorld, "t");
  // Half the keys stored, in two tiers by two instances; chunks bound to their tokens.
  std::vector<int64_t> wide(tokens.begin(), tokens.end());
  for (const auto& [instance, tier] :
       {std::pair{"mp-1", core::CacheTier::kL2}, std::pair{"mp-0", core::CacheTier::kL1}}) {
    std::vector<core::CacheEventEntry> entries;
    for (size_t i = 0; i < keys.size(); i += 2) {
      const size_t chunk = i / kWorld;
      entries.push_back({keys[i], 100 + i,
                         std::span<const int64_t>(wide).subspan(chunk * kChunk, kChunk),
                         static_cast<int64_t>(chunk * kChunk)});
    }
    core::CacheEventBatch batch;
    batch.instance_id = instance;
    batch.incarnation = 3;
    batch.seq = 1;
    batch.type = core::CacheEventType::kStore;
    batch.tier = tier;
    batch.backend = "fs";
    batch.entries = entries;
    l2.apply_cache_batch(batch);
  }

  std::string list;
  for (const uint32_t t : tokens) list += (list.empty() ? "" : ",") + std::to_string(t);
  const std::string fast_body =
      R"({"model_name":"m","world_size":3,"cache_salt":"t","token_ids":[)" + list + "]}";
  // An unknown member: valid, but only the tree path reads it.
  const std::string tree_body =
      R"({"extra":null,"model_name":"m","world_size":3,"cache_salt":"t","token_ids":[)" + list +
      "]}";
  const HttpResponse fast = post_lookup(router, fast_body);
  const HttpResponse tree = post_lookup(router, tree_body);
  EXPECT_EQ(fast.result(), beast_http::status::ok);
  EXPECT_EQ(fast.body(), tree.body());
  EXPECT_EQ(fast[beast_http::field::content_type], "application/json");

  // And both are what the tree printed before, from the per-key lookup.
  const auto per_key = l2.lookup(keys);
  std::vector<std::vector<Placement>> placements;
  std::vector<const core::TokenBinding*> bindings;
  size_t with_placements = 0;
  for (const auto& found : per_key) {
    placements.push_back(found.placements);
    bindings.push_back(found.binding.get());
    with_placements += found.placements.empty() ? 0 : 1;
  }
  EXPECT_EQ(with_placements, (keys.size() + 1) / 2);
  EXPECT_EQ(fast.body(), tree_answer(hashes.size(), keys, placements, bindings));
}

}  // namespace
}  // namespace lmcache::http
