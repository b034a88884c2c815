#include "wire/delete_keys_body.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "wire/object_key_codec.h"

namespace lmcache::wire {

std::string encode_delete_keys_body(std::span<const core::ObjectKeyView> keys) {
  boost::json::array encoded;
  encoded.reserve(keys.size());
  for (const core::ObjectKeyView& key : keys) encoded.emplace_back(encode_object_key(key));
  return boost::json::serialize(boost::json::object{{"keys", std::move(encoded)}});
}

std::string encode_delete_objects_body(std::span<const core::ObjectKeyView> keys,
                                       std::string_view tier, bool force) {
  boost::json::array encoded;
  encoded.reserve(keys.size());
  for (const core::ObjectKeyView& key : keys) encoded.emplace_back(encode_object_key(key));
  return boost::json::serialize(
      boost::json::object{{"keys", std::move(encoded)}, {"tier", tier}, {"force", force}});
}

}  // namespace lmcache::wire
