#include "core/admin_token_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace lmcache::core {

std::vector<std::string> parse_admin_tokens(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\f\v";
  std::vector<std::string> tokens;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    const size_t first = line.find_first_not_of(kSpace);
    if (first == std::string_view::npos) continue;
    line = line.substr(first, line.find_last_not_of(kSpace) - first + 1);
    tokens.emplace_back(line);
  }
  return tokens;
}

AdminTokenFile read_admin_token_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return {{}, "cannot read the admin token file '" + path + "': " + std::strerror(errno)};
  }
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return {{}, "cannot read the admin token file '" + path + "'"};
  std::vector<std::string> tokens = parse_admin_tokens(text.str());
  if (tokens.empty()) {
    return {{}, "the admin token file '" + path + "' holds no token (one token per line)"};
  }
  return {std::move(tokens), ""};
}

}  // namespace lmcache::core
