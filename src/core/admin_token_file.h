// The admin token file of --admin-token-file: one bearer token per line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lmcache::core {

// The tokens of a token file's text, one per line, in file order: surrounding whitespace
// (spaces, tabs, CR) is dropped and blank lines are skipped. Duplicates are kept.
std::vector<std::string> parse_admin_tokens(std::string_view text);

// What reading a token file gave: its tokens, or why it cannot be used.
struct AdminTokenFile {
  std::vector<std::string> tokens;  // empty when `error` is set
  std::string error;                // empty on success; names the path, never a token
};

// Reads and parses the file at `path`. A file that cannot be read or holds no token is an
// error: an empty token set would lock every operator out (or, worse, be read as "no auth").
AdminTokenFile read_admin_token_file(const std::string& path);

}  // namespace lmcache::core
