# Writes a C++ source that embeds one text file in the binary, as
#   std::string_view lmcache::http::embedded::<NAME>()
# declared in src/http/embedded_documents.h. Run in script mode:
#   cmake -DINPUT=file -DOUTPUT=file.cpp -DNAME=function -P cmake/EmbedText.cmake
# The bytes are written as a hex array, so no content can end a string literal early.
foreach(var INPUT OUTPUT NAME)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "EmbedText.cmake needs -D${var}=...")
  endif()
endforeach()

file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
# 16 bytes a line (CMake's regular expressions have no {n}).
string(REPEAT "'[^']*'," 16 line_of_bytes)
string(REGEX REPLACE "(${line_of_bytes})" "\\1\n    " bytes "${bytes}")

file(RELATIVE_PATH source "${CMAKE_CURRENT_LIST_DIR}/.." "${INPUT}")
set(content "// Generated from ${source} by cmake/EmbedText.cmake; do not edit.
#include <cstddef>
#include <string_view>

#include \"http/embedded_documents.h\"

namespace lmcache::http::embedded {
namespace {
constexpr std::size_t kSize = ${size};
constexpr char kBytes[kSize + 1] = {
    ${bytes}'\\0'};
}  // namespace

std::string_view ${NAME}() { return {kBytes, kSize}; }

}  // namespace lmcache::http::embedded
")
# Only rewrite on change, so an unchanged document does not recompile.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" previous)
  if(previous STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${content}")
