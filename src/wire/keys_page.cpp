#include "wire/keys_page.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "wire/lax_number.h"
#include "wire/object_key_codec.h"

namespace lmcache::wire {
namespace json = boost::json;

namespace {

KeysPageResult malformed(std::string_view why) {
  KeysPageResult result;
  result.error = "malformed page: " + std::string(why);
  return result;
}

// One entry; nullopt when it is not parsable.
std::optional<std::pair<core::ObjectKey, uint64_t>> decode_entry(const json::value& entry) {
  const json::object* fields = entry.if_object();
  if (fields == nullptr) return std::nullopt;
  const json::value* key = fields->if_contains("key");
  const json::value* size = fields->if_contains("size_bytes");
  if (key == nullptr || size == nullptr) return std::nullopt;
  const LaxInteger bytes = lax_integer(*size);
  if (!bytes.ok() || bytes.value < 0) return std::nullopt;
  core::ObjectKeyResult decoded = decode_object_key(*key);
  if (!decoded.ok()) return std::nullopt;
  return std::make_pair(std::move(*decoded.key), static_cast<uint64_t>(bytes.value));
}

}  // namespace

KeysPageResult decode_keys_page(std::string_view body) {
  boost::system::error_code ec;
  const json::value root = json::parse(body, ec);
  if (ec) return malformed("not JSON (" + ec.message() + ")");
  const json::object* object = root.if_object();
  if (object == nullptr) return malformed("not an object");
  const json::value* entries_value = object->if_contains("entries");
  const json::array* entries = entries_value ? entries_value->if_array() : nullptr;
  if (entries == nullptr) return malformed("entries is not a list");

  KeysPage page;
  if (const json::value* next = object->if_contains("next_page_token"); next && !next->is_null()) {
    if (!next->is_string()) return malformed("next_page_token is neither a string nor null");
    page.next_page_token = std::string(next->get_string());
  }
  page.entries.reserve(entries->size());
  for (const json::value& entry : *entries) {
    if (auto decoded = decode_entry(entry)) {
      page.entries.push_back(std::move(*decoded));
    } else {
      ++page.skipped;
    }
  }
  return KeysPageResult{std::move(page), {}};
}

}  // namespace lmcache::wire
