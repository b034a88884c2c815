#include "http/directory_lookup_answer.h"

#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cstdint>
#include <string_view>

#include "http/json_repair.h"
#include "http/json_text.h"

namespace lmcache::http {
namespace json = boost::json;

namespace {

// Appends what json_response prints for `value`: repaired first when it would not be JSON.
void append_json(std::string& out, const json::value& value) {
  if (needs_json_repair(value)) {
    json::value repaired = value;
    repair_json(repaired);
    out += to_json_text(repaired);
  } else {
    out += to_json_text(value);
  }
}

template <typename Integer>
void append_integer(std::string& out, Integer value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof(digits), value).ptr;
  out.append(digits, end);
}

void append_hex(std::string& out, std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const size_t at = out.size();
  out.resize(at + bytes.size() * 2);
  char* p = out.data() + at;
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    *p++ = kDigits[b >> 4];
    *p++ = kDigits[b & 0xF];
  }
}

// A string's JSON text, remembered for the next key: a lookup's keys mostly share their model
// and salt.
class StringText {
 public:
  const std::string& of(std::string_view s) {
    if (!valid_ || s != source_) {
      source_.assign(s);
      text_.clear();
      append_json(text_, json::string(s));
      valid_ = true;
    }
    return text_;
  }

 private:
  bool valid_ = false;
  std::string source_;
  std::string text_;
};

}  // namespace

json::array placements_json(std::span<const core::Placement> placements) {
  json::array out;
  out.reserve(placements.size());
  for (const core::Placement& p : placements) {
    out.push_back(json::object{{"instance_id", p.instance_id},
                               {"incarnation", p.incarnation},
                               {"tier", core::cache_tier_name(p.tier)},
                               {"backend", p.backend},
                               {"size_bytes", p.size_bytes},
                               {"shared", p.shared}});
  }
  return out;
}

std::string lookup_answer_text(size_t chunks, std::span<const core::ObjectKeyView> keys,
                               const core::L2Accounting::KeysLookup& found) {
  std::string out;
  // A result without placements or tokens is ~220 bytes with a short model name.
  out.reserve(32 + keys.size() * 256);
  out += "{\"chunks\":";
  append_integer(out, chunks);
  out += ",\"results\":[";
  StringText model, salt;
  // The text around kv_rank, remembered while it stays the same: the ranks of one chunk share
  // the hash, model, group and salt.
  std::string head;  // `{"key":{"chunk_hash_hex":"...","model_name":...,"kv_rank":`
  std::string tail;  // `,"object_group_id":...,"cache_salt":...},"placements":`
  const core::TokenBinding* last_binding = nullptr;
  std::string tokens_text;  // last_binding's token_ids
  for (size_t i = 0; i < keys.size(); ++i) {
    const core::ObjectKeyView& key = keys[i];
    const core::ObjectKeyView* previous = i == 0 ? nullptr : &keys[i - 1];
    if (previous == nullptr || key.chunk_hash != previous->chunk_hash ||
        key.model_name != previous->model_name) {
      head.assign("{\"key\":{\"chunk_hash_hex\":\"");
      append_hex(head, key.chunk_hash);
      head += "\",\"model_name\":";
      head += model.of(key.model_name);
      head += ",\"kv_rank\":";
    }
    if (previous == nullptr || key.object_group_id != previous->object_group_id ||
        key.cache_salt != previous->cache_salt) {
      tail.assign(",\"object_group_id\":");
      append_integer(tail, key.object_group_id);
      tail += ",\"cache_salt\":";
      tail += salt.of(key.cache_salt);
      tail += "},\"placements\":";
    }
    if (i != 0) out += ',';
    out += head;
    append_integer(out, core::kv_rank_to_wire(key.kv_rank));
    out += tail;
    const std::span<const core::Placement> placements = found.placements(i);
    if (placements.empty()) {
      out += "[]";
    } else {
      append_json(out, placements_json(placements));
    }
    out += ",\"token_ids\":";
    const core::TokenBinding* binding = found.bindings[i];
    if (binding == nullptr) {
      out += "[]}";
      continue;
    }
    if (binding != last_binding) {
      tokens_text.assign("[");
      for (size_t t = 0; t < binding->token_ids.size(); ++t) {
        if (t != 0) tokens_text += ',';
        append_integer(tokens_text, binding->token_ids[t]);
      }
      tokens_text += ']';
      last_binding = binding;
    }
    out += tokens_text;
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace lmcache::http
