// SaxFastPath: the scaffolding shared by the one-pass (SAX) fast paths of the event decoders
// (l2_event_fast_decoder, cache_event_fast_decoder): a boost::json::basic_parser handler that
// skips unknown fields, joins names and strings that arrive in parts, refuses repeated fields,
// reads the object key sub-objects, and leaves the fast path on anything it does not read.
#pragma once

#include <boost/json/basic_parser.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "core/object_key.h"
#include "http/sax_object_key.h"

namespace lmcache::http {

// The CRTP base of a fast-path handler; `Derived` is the handler (json::basic_parser<Derived>)
// and `Field` its enum of the fields it reads (at most 32, kUnknown for every other name), which
// names the key sub-object kKey and its fields as SaxObjectKey<Field> requires. The base reads
// a key object itself (the value of kKey where Derived offers a key to fill) and hides it from
// Derived: Derived's state stays that of the object holding the key.
// Every callback returns false (with `ec` set) to leave the fast path; the caller then decodes
// the body with its tree decoder, which owns every error message, so nothing says why.
//
// Derived provides, all called outside skipped values (statically: no virtual calls, so the
// per-token work inlines):
//   bool enter_object();   an object starts; false: it is a field value to skip (or leave)
//   bool leave_object();   the current object ends; false: leave the fast path
//   bool enter_array();    as enter_object, for an array
//   bool leave_array();    as leave_object, for an array
//   uint32_t* fields_of(std::string_view name);  sets pending_ to the name's field in the
//                          current object and returns that object's set of fields seen, or
//                          nullptr where no name may stand (then the fast path is left)
//   bool in_list() const;  true inside a list the fast path reads (its items are no fields)
//   bool outside() const;  true before the root object begins and after it ends
//   bool take_string(std::string_view value);  pending_'s value; false when it is not valid
//   bool take_integer(int64_t value);          likewise, for a JSON integer within int64
//   core::ObjectKeyView* key_target();  the key a kKey object here fills, or nullptr where
//                          kKey names no key
//   Storage& string_storage();  where key strings are kept (keep(std::string_view) -> view)
//   unsigned char* allocate_bytes(size_t n);    n bytes as long-lived as string_storage()
// and may hide these defaults:
//   bool take_list_integer(int64_t value);     an integer item of the current list (refused)
//   bool take_uint64(uint64_t), take_double(double), take_bool(bool): pending_'s value; false
//                          means not taken (fine for an unknown field, else the path is left)
template <typename Derived, typename Field>
class SaxFastPath {
 public:
  static constexpr size_t max_object_size = std::numeric_limits<size_t>::max();
  static constexpr size_t max_array_size = std::numeric_limits<size_t>::max();
  static constexpr size_t max_key_size = std::numeric_limits<size_t>::max();
  static constexpr size_t max_string_size = std::numeric_limits<size_t>::max();

  using error_code = boost::system::error_code;

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }

  bool on_object_begin(error_code& ec) {
    if (skip_depth_ > 0) {
      ++skip_depth_;
      return true;
    }
    if (key_ == nullptr && pending_ == Field::kKey) {
      key_ = self().key_target();
      if (key_ != nullptr) {
        key_seen_ = 0;
        return true;
      }
    }
    return (key_ == nullptr && self().enter_object()) || skip_or_leave(ec);
  }

  bool on_object_end(size_t, error_code& ec) {
    if (skip_depth_ > 0) {
      --skip_depth_;
      return true;
    }
    if (key_ != nullptr) {
      key_ = nullptr;
      return KeyReader::complete(key_seen_) || leave(ec);
    }
    return self().leave_object() || leave(ec);
  }

  bool on_array_begin(error_code& ec) {
    if (skip_depth_ > 0) {
      ++skip_depth_;
      return true;
    }
    return (key_ == nullptr && self().enter_array()) || skip_or_leave(ec);
  }

  bool on_array_end(size_t, error_code& ec) {
    if (skip_depth_ > 0) {
      --skip_depth_;
      return true;
    }
    return (key_ == nullptr && self().leave_array()) || leave(ec);
  }

  bool on_key_part(boost::json::string_view part, size_t, error_code&) {
    if (skip_depth_ == 0) name_.append(part.data(), part.size());
    return true;
  }

  bool on_key(boost::json::string_view last, size_t, error_code& ec) {
    if (skip_depth_ > 0) return true;
    std::string_view name(last.data(), last.size());
    if (!name_.empty()) {
      name_.append(last.data(), last.size());
      name = name_;
    }
    uint32_t* seen = &key_seen_;
    if (key_ != nullptr) {
      pending_ = KeyReader::field(name);
    } else {
      seen = self().fields_of(name);
      if (seen == nullptr) return leave(ec);
    }
    name_.clear();
    if (pending_ == Field::kUnknown) return true;
    // A repeated field: the tree decoder knows which occurrence wins.
    if (has(*seen, pending_)) return leave(ec);
    *seen |= bit(pending_);
    return true;
  }

  bool on_string_part(boost::json::string_view part, size_t, error_code&) {
    if (skip_depth_ == 0 && pending_ != Field::kUnknown) text_.append(part.data(), part.size());
    return true;
  }

  bool on_string(boost::json::string_view last, size_t, error_code& ec) {
    if (skip_depth_ > 0) return true;
    if (self().in_list()) return leave(ec);  // a list item that is a string
    std::string_view value(last.data(), last.size());
    if (!text_.empty()) {
      text_.append(last.data(), last.size());
      value = text_;
    }
    const bool ok =
        pending_ == Field::kUnknown ||
        (key_ != nullptr ? key_reader_.take_string(
                               pending_, value, self().string_storage(),
                               [this](size_t size) { return self().allocate_bytes(size); }, *key_)
                         : self().take_string(value));
    text_.clear();
    return ok || leave(ec);
  }

  bool on_number_part(boost::json::string_view, error_code&) { return true; }

  bool on_int64(int64_t value, boost::json::string_view, error_code& ec) {
    if (skip_depth_ > 0) return true;
    if (self().in_list()) return self().take_list_integer(value) || leave(ec);
    if (pending_ == Field::kUnknown) return true;
    const bool ok = key_ != nullptr ? KeyReader::take_integer(pending_, value, *key_)
                                    : self().take_integer(value);
    return ok || leave(ec);
  }

  bool on_uint64(uint64_t value, boost::json::string_view, error_code& ec) {
    return (skip_depth_ == 0 && key_ == nullptr && !self().in_list() &&
            self().take_uint64(value)) ||
           other_scalar(ec);
  }
  bool on_double(double value, boost::json::string_view, error_code& ec) {
    return (skip_depth_ == 0 && key_ == nullptr && !self().in_list() &&
            self().take_double(value)) ||
           other_scalar(ec);
  }
  bool on_bool(bool value, error_code& ec) {
    return (skip_depth_ == 0 && key_ == nullptr && !self().in_list() && self().take_bool(value)) ||
           other_scalar(ec);
  }
  // A null is no field's value (the tree decoders give some fields their default).
  bool on_null(error_code& ec) { return other_scalar(ec); }

  bool on_comment_part(boost::json::string_view, error_code& ec) { return leave(ec); }
  bool on_comment(boost::json::string_view, error_code& ec) { return leave(ec); }

 protected:
  // The defaults Derived may hide: nothing taken.
  bool take_list_integer(int64_t) { return false; }
  bool take_uint64(uint64_t) { return false; }
  bool take_double(double) { return false; }
  bool take_bool(bool) { return false; }

  static uint32_t bit(Field field) { return 1u << static_cast<unsigned>(field); }
  static bool has(uint32_t seen, Field field) { return (seen & bit(field)) != 0; }

  static bool leave(error_code& ec) {
    ec = boost::system::errc::make_error_code(boost::system::errc::not_supported);
    return false;
  }

  // Forgets the state of an earlier parse (which may have left the fast path inside a string)
  // and the key strings of the earlier output.
  void reset_parse() {
    skip_depth_ = 0;
    pending_ = Field::kUnknown;
    key_ = nullptr;
    key_reader_.reset();
    name_.clear();
    text_.clear();
  }

  Field pending_ = Field::kUnknown;  // the field whose value comes next

 private:
  using KeyReader = SaxObjectKey<Field>;

  Derived& self() { return static_cast<Derived&>(*this); }
  const Derived& self() const { return static_cast<const Derived&>(*this); }

  // An object or array as a field value: skipped when the field is unknown.
  bool skip_or_leave(error_code& ec) {
    if (self().in_list() || self().outside() || pending_ != Field::kUnknown) return leave(ec);
    skip_depth_ = 1;
    return true;
  }

  // A scalar nobody took: fine as the value of an unknown field, else the fast path is left.
  bool other_scalar(error_code& ec) {
    if (skip_depth_ > 0) return true;
    if (self().in_list() || pending_ != Field::kUnknown) return leave(ec);
    return true;
  }

  size_t skip_depth_ = 0;               // > 0 inside a value that is skipped: its nesting depth
  core::ObjectKeyView* key_ = nullptr;  // inside a key object: the key it fills
  uint32_t key_seen_ = 0;               // bit(field) of the key object's fields seen
  KeyReader key_reader_;                // its fields' values
  std::string name_;                    // a key that arrived in parts
  std::string text_;                    // a string value that arrived in parts
};

}  // namespace lmcache::http
