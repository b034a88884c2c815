#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/route_request.h"

namespace lmcache::http {

// Collects request validation errors in the FastAPI / pydantic-2 shape:
// {"detail":[{"type","loc","msg","input"[,"ctx"]}...]}, answered with 422.
class ValidationErrors {
 public:
  void add(std::string_view type, boost::json::array loc, std::string_view msg,
           boost::json::value input, boost::json::object ctx = {});
  bool empty() const { return items_.empty(); }
  HttpResponse to_response() const;

 private:
  boost::json::array items_;
};

// Parses a request body. Malformed JSON adds a `json_invalid` error at
// ["body", offset]; an empty body adds `missing` at ["body"].
std::optional<boost::json::value> parse_json_body(std::string_view body, ValidationErrors& errors);

// The body as an object, or a `model_attributes_type` error at ["body"].
const boost::json::object* body_object(const boost::json::value& body, ValidationErrors& errors);

// Reads typed fields of one JSON object, adding one pydantic-shaped error per
// bad field (so a client sees every problem at once). A missing field with a
// default yields the default. Strings must be JSON strings; integers and
// numbers follow the lax rules of wire/lax_number.h (integral floats and
// numeric strings are integers; numeric strings are numbers).
class FieldReader {
 public:
  FieldReader(const boost::json::object& object, boost::json::array loc, ValidationErrors& errors)
      : object_(object), loc_(std::move(loc)), errors_(errors) {}

  std::optional<std::string> string(std::string_view name,
                                    std::optional<std::string_view> fallback = std::nullopt);
  std::optional<int64_t> integer(std::string_view name, std::optional<int64_t> fallback,
                                 std::optional<int64_t> min = std::nullopt,
                                 std::optional<int64_t> max = std::nullopt);
  std::optional<double> number(std::string_view name, std::optional<double> fallback,
                               std::optional<double> min = std::nullopt);
  // A present field that must be an object / array. nullptr when absent
  // (`required` adds `missing`) or of the wrong type (adds an error).
  const boost::json::object* object(std::string_view name, bool required);
  const boost::json::array* array(std::string_view name, bool required);

  // A value that was present, for custom checks.
  const boost::json::value* raw(std::string_view name) const;
  boost::json::array loc(std::string_view name) const;
  ValidationErrors& errors() { return errors_; }

 private:
  const boost::json::value* present(std::string_view name, bool required);

  const boost::json::object& object_;
  boost::json::array loc_;
  ValidationErrors& errors_;
};

// Reads one value as an integer with pydantic's lax rules; on failure adds
// the error at `loc` and returns nullopt.
std::optional<int64_t> read_integer(const boost::json::value& value, const boost::json::array& loc,
                                    ValidationErrors& errors, std::optional<int64_t> min,
                                    std::optional<int64_t> max);

// The same for a non-negative integer that may exceed int64 (token ids).
std::optional<uint64_t> read_unsigned(const boost::json::value& value,
                                      const boost::json::array& loc, ValidationErrors& errors);

}  // namespace lmcache::http
