#include "http/request_validation.h"

#include <fmt/format.h>

#include <boost/json/parser.hpp>
#include <cmath>

#include "http/json_response.h"
#include "wire/lax_number.h"

namespace lmcache::http {
namespace json = boost::json;

namespace {

json::array with(const json::array& loc, std::string_view name) {
  json::array out = loc;
  out.emplace_back(name);
  return out;
}

// pydantic formats bounds like Python: 1 or 1.5.
std::string bound_text(double bound) {
  if (std::floor(bound) == bound && std::fabs(bound) < 1e15) {
    return fmt::format("{}", static_cast<int64_t>(bound));
  }
  return fmt::format("{}", bound);
}

}  // namespace

void ValidationErrors::add(std::string_view type, json::array loc, std::string_view msg,
                           json::value input, json::object ctx) {
  json::object item{
      {"type", type}, {"loc", std::move(loc)}, {"msg", msg}, {"input", std::move(input)}};
  if (!ctx.empty()) item["ctx"] = std::move(ctx);
  items_.emplace_back(std::move(item));
}

HttpResponse ValidationErrors::to_response() const {
  return json_response(beast_http::status::unprocessable_entity, json::object{{"detail", items_}});
}

std::optional<json::value> parse_json_body(std::string_view body, ValidationErrors& errors) {
  if (wire::trim(body).empty()) {
    errors.add("missing", json::array{"body"}, "Field required", nullptr);
    return std::nullopt;
  }
  json::parse_options options;
  options.max_depth = 64;
  json::parser parser({}, options);
  boost::system::error_code ec;
  const size_t consumed = parser.write_some(body.data(), body.size(), ec);
  if (!ec) {
    // Only JSON white space may follow the value. That is space, tab, CR and LF: not every
    // std::isspace character (a trailing vertical tab or form feed is extra data, as in Python).
    const std::string_view rest = body.substr(consumed);
    if (rest.find_first_not_of(" \t\n\r") != std::string_view::npos) {
      errors.add("json_invalid", json::array{"body", consumed}, "JSON decode error", json::object{},
                 json::object{{"error", "Extra data"}});
      return std::nullopt;
    }
  }
  if (ec) {
    const size_t offset = std::min(consumed, body.size());
    errors.add("json_invalid", json::array{"body", offset}, "JSON decode error", json::object{},
               json::object{{"error", ec.message()}});
    return std::nullopt;
  }
  return parser.release();
}

const json::object* body_object(const json::value& body, ValidationErrors& errors) {
  if (const auto* object = body.if_object()) return object;
  errors.add("model_attributes_type", json::array{"body"},
             "Input should be a valid dictionary or object to extract fields from", body);
  return nullptr;
}

std::optional<int64_t> read_integer(const json::value& value, const json::array& loc,
                                    ValidationErrors& errors, std::optional<int64_t> min,
                                    std::optional<int64_t> max) {
  const wire::LaxInteger result = wire::lax_integer(value);
  switch (result.fault) {
    case wire::IntegerFault::kNone:
      break;
    case wire::IntegerFault::kType:
      errors.add("int_type", loc, "Input should be a valid integer", value);
      return std::nullopt;
    case wire::IntegerFault::kFraction:
      errors.add("int_from_float", loc,
                 "Input should be a valid integer, got a number with a fractional part", value);
      return std::nullopt;
    case wire::IntegerFault::kSize:
      errors.add("int_parsing_size", loc,
                 "Unable to parse input string as an integer, exceeded maximum size", value);
      return std::nullopt;
    case wire::IntegerFault::kParsing:
      errors.add("int_parsing", loc,
                 "Input should be a valid integer, unable to parse string as an integer", value);
      return std::nullopt;
  }
  if (min && result.value < *min) {
    errors.add("greater_than_equal", loc,
               fmt::format("Input should be greater than or equal to {}", *min), value,
               json::object{{"ge", *min}});
    return std::nullopt;
  }
  if (max && result.value > *max) {
    errors.add("less_than_equal", loc,
               fmt::format("Input should be less than or equal to {}", *max), value,
               json::object{{"le", *max}});
    return std::nullopt;
  }
  return result.value;
}

std::optional<uint64_t> read_unsigned(const json::value& value, const json::array& loc,
                                      ValidationErrors& errors) {
  if (value.is_uint64()) return value.get_uint64();
  if (value.is_int64() && value.get_int64() >= 0) return static_cast<uint64_t>(value.get_int64());
  auto signed_value = read_integer(value, loc, errors, 0, std::nullopt);
  if (!signed_value) return std::nullopt;
  return static_cast<uint64_t>(*signed_value);
}

json::array FieldReader::loc(std::string_view name) const { return with(loc_, name); }

const json::value* FieldReader::raw(std::string_view name) const {
  return object_.if_contains(name);
}

const json::value* FieldReader::present(std::string_view name, bool required) {
  const json::value* value = object_.if_contains(name);
  if (value == nullptr && required) {
    errors_.add("missing", loc(name), "Field required", object_);
  }
  return value;
}

std::optional<std::string> FieldReader::string(std::string_view name,
                                               std::optional<std::string_view> fallback) {
  const json::value* value = present(name, !fallback.has_value());
  if (value == nullptr || (fallback && value->is_null())) {
    if (fallback) return std::string(*fallback);
    return std::nullopt;
  }
  if (!value->is_string()) {
    errors_.add("string_type", loc(name), "Input should be a valid string", *value);
    return std::nullopt;
  }
  return std::string(value->get_string());
}

std::optional<int64_t> FieldReader::integer(std::string_view name, std::optional<int64_t> fallback,
                                            std::optional<int64_t> min,
                                            std::optional<int64_t> max) {
  const json::value* value = present(name, !fallback.has_value());
  if (value == nullptr || (fallback && value->is_null())) return fallback;
  return read_integer(*value, loc(name), errors_, min, max);
}

std::optional<double> FieldReader::number(std::string_view name, std::optional<double> fallback,
                                          std::optional<double> min) {
  const json::value* value = present(name, !fallback.has_value());
  if (value == nullptr || (fallback && value->is_null())) return fallback;
  const wire::LaxNumber result = wire::lax_number(*value);
  switch (result.fault) {
    case wire::NumberFault::kNone:
      break;
    case wire::NumberFault::kType:
      errors_.add("float_type", loc(name), "Input should be a valid number", *value);
      return std::nullopt;
    case wire::NumberFault::kParsing:
      errors_.add("float_parsing", loc(name),
                  "Input should be a valid number, unable to parse string as a number", *value);
      return std::nullopt;
    case wire::NumberFault::kNotFinite:
      errors_.add("finite_number", loc(name), "Input should be a finite number", *value);
      return std::nullopt;
  }
  if (min && result.value < *min) {
    errors_.add("greater_than_equal", loc(name),
                fmt::format("Input should be greater than or equal to {}", bound_text(*min)),
                *value, json::object{{"ge", *min}});
    return std::nullopt;
  }
  return result.value;
}

const json::object* FieldReader::object(std::string_view name, bool required) {
  const json::value* value = present(name, required);
  if (value == nullptr) return nullptr;
  if (!value->is_object()) {
    errors_.add("dict_type", loc(name), "Input should be a valid dictionary", *value);
    return nullptr;
  }
  return &value->get_object();
}

const json::array* FieldReader::array(std::string_view name, bool required) {
  const json::value* value = present(name, required);
  if (value == nullptr) return nullptr;
  if (!value->is_array()) {
    errors_.add("list_type", loc(name), "Input should be a valid list", *value);
    return nullptr;
  }
  return &value->get_array();
}

}  // namespace lmcache::http
