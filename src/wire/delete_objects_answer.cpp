#include "wire/delete_objects_answer.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "wire/lax_number.h"

namespace lmcache::wire {
namespace json = boost::json;

namespace {

DeleteObjectsAnswerResult malformed(std::string_view why) {
  DeleteObjectsAnswerResult result;
  result.error = "malformed answer: " + std::string(why);
  return result;
}

// The count `name` of `object` (0 when missing or null); nullopt when it is not one.
std::optional<uint64_t> count(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr || value->is_null()) return 0;
  const LaxInteger parsed = lax_integer(*value);
  if (!parsed.ok() || parsed.value < 0) return std::nullopt;
  return static_cast<uint64_t>(parsed.value);
}

}  // namespace

DeleteObjectsAnswerResult decode_delete_objects_answer(std::string_view body) {
  boost::system::error_code ec;
  const json::value root = json::parse(body, ec);
  if (ec) return malformed("not JSON (" + ec.message() + ")");
  const json::object* object = root.if_object();
  if (object == nullptr) return malformed("not an object");

  DeleteObjectsAnswer answer;
  const json::value* ok = object->if_contains("ok");
  if (ok == nullptr || !ok->is_bool()) return malformed("ok is not a boolean");
  answer.ok = ok->get_bool();
  const auto deleted = count(*object, "deleted");
  if (!deleted) return malformed("deleted is not a non-negative integer");
  const auto skipped = count(*object, "skipped");
  if (!skipped) return malformed("skipped is not a non-negative integer");
  answer.deleted = *deleted;
  answer.skipped = *skipped;
  if (const json::value* error = object->if_contains("error"); error && !error->is_null()) {
    if (!error->is_string()) return malformed("error is neither a string nor null");
    answer.error = std::string(error->get_string());
  }
  return DeleteObjectsAnswerResult{std::move(answer), {}};
}

}  // namespace lmcache::wire
