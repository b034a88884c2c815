// Decoding of the token fields of the CacheBlend requests (spec section 7).
//
// MP servers of different LMCache releases send request tokens in one of three
// fields: `tokens_b64` (base64 of little-endian uint32 ids), `tokens_u64_b64`
// (the same with uint64 ids) and `tokens` (a JSON list of non-negative
// integers). Decoding never allocates per token: base64 is decoded straight
// into the token vector, and a JSON list is read into one reserved vector.

#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "http/request_validation.h"

namespace lmcache::http {

// Strict standard base64 (RFC 4648 section 4): alphabet A-Z a-z 0-9 + /, the
// length a multiple of 4, at most two '=' and only at the end. No white space.
// Bits left over in the last character before padding are ignored (as
// Python's base64.b64decode does).

// The number of bytes `text` decodes to, or nullopt with `error` set when its
// length or padding is invalid. Characters other than '=' are not checked.
std::optional<size_t> base64_decoded_size(std::string_view text, std::string& error);

// Decodes `text` into out[0, base64_decoded_size(text)). Returns false with
// `error` set when the length, the padding or a character is invalid; `out`
// may then hold partial output.
bool base64_decode(std::string_view text, unsigned char* out, std::string& error);

// Decodes base64 of little-endian Token values (Token is uint32_t or
// uint64_t). nullopt with `error` set when the base64 is invalid or its byte
// length is not a multiple of sizeof(Token).
template <typename Token>
std::optional<std::vector<Token>> decode_base64_tokens(std::string_view text, std::string& error);

extern template std::optional<std::vector<uint32_t>> decode_base64_tokens<uint32_t>(
    std::string_view, std::string&);
extern template std::optional<std::vector<uint64_t>> decode_base64_tokens<uint64_t>(
    std::string_view, std::string&);

// Reads a JSON list of non-negative integer token ids (pydantic's lax integer
// rules per item). Adds one error per bad item at loc + [index] (or a
// `list_type` error at loc) and returns nullopt if there was any.
std::optional<std::vector<uint64_t>> read_token_list(const boost::json::value& value,
                                                     const boost::json::array& loc,
                                                     ValidationErrors& errors);

// The tokens of one match request, in the width they were sent in.
using RequestTokens = std::variant<std::vector<uint32_t>, std::vector<uint64_t>>;

// Reads the single token field of a request body (`body_loc` is the location
// of the body, usually ["body"]). No token field (or only nulls) gives no
// tokens; two or more fields, a field of the wrong type, invalid base64 or a
// bad byte length add a 422 error and give nullopt.
std::optional<RequestTokens> read_request_tokens(const boost::json::object& body,
                                                 const boost::json::array& body_loc,
                                                 ValidationErrors& errors);

}  // namespace lmcache::http
