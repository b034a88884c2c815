#include "http/query_params.h"

#include "http/router.h"

namespace lmcache::http {
namespace {

std::string decode_component(std::string_view text) {
  std::string spaced(text);
  for (char& c : spaced) {
    if (c == '+') c = ' ';
  }
  auto decoded = percent_decode(spaced);
  return decoded ? std::move(*decoded) : spaced;
}

}  // namespace

std::optional<std::string> query_param(const HttpRequest& request, std::string_view name) {
  const std::string_view target = request.target();
  const size_t mark = target.find('?');
  if (mark == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(mark + 1);
  const size_t fragment = query.find('#');
  if (fragment != std::string_view::npos) query = query.substr(0, fragment);
  std::optional<std::string> found;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (decode_component(pair.substr(0, eq)) != name) continue;
    found = eq == std::string_view::npos ? std::string() : decode_component(pair.substr(eq + 1));
  }
  return found;
}

}  // namespace lmcache::http
