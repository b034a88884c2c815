#include "wire/delete_keys_body.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <vector>

#include "wire/object_key_codec.h"

namespace lmcache::wire {
namespace {
namespace json = boost::json;

TEST(DeleteKeysBodyTest, ListsEveryKeyInOrder) {
  const std::vector<core::ObjectKey> keys = {{"\xab", "m", 0, 0, ""}, {"\x01\x02", "n", 3, 4, "t"}};
  const std::vector<core::ObjectKeyView> views(keys.begin(), keys.end());
  EXPECT_EQ(encode_delete_keys_body(views),
            R"({"keys":[{"chunk_hash_hex":"ab","model_name":"m","kv_rank":0,"object_group_id":0,)"
            R"("cache_salt":""},{"chunk_hash_hex":"0102","model_name":"n","kv_rank":3,)"
            R"("object_group_id":4,"cache_salt":"t"}]})");
  const json::array decoded = json::parse(encode_delete_keys_body(views)).at("keys").as_array();
  ASSERT_EQ(decoded.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(*decode_object_key(decoded[i]).key, keys[i]);
}

TEST(DeleteKeysBodyTest, NoKeysIsAnEmptyList) {
  EXPECT_EQ(encode_delete_keys_body({}), R"({"keys":[]})");
}

TEST(DeleteKeysBodyTest, ObjectsBodyCarriesTierAndForce) {
  const std::vector<core::ObjectKey> keys = {{"\xab", "m", 0, 0, ""}};
  const std::vector<core::ObjectKeyView> views(keys.begin(), keys.end());
  const json::value body = json::parse(encode_delete_objects_body(views, "l1", true));
  EXPECT_EQ(body.at("tier"), "l1");
  EXPECT_EQ(body.at("force"), true);
  ASSERT_EQ(body.at("keys").as_array().size(), 1u);
  EXPECT_EQ(*decode_object_key(body.at("keys").as_array()[0]).key, keys[0]);
  EXPECT_EQ(json::parse(encode_delete_objects_body({}, "all", false)),
            json::parse(R"({"keys":[],"tier":"all","force":false})"));
}

}  // namespace
}  // namespace lmcache::wire
