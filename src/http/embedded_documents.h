// Documents embedded in the binary at build time (cmake/EmbedText.cmake writes the definitions
// from the files under api/).
#pragma once

#include <string_view>

namespace lmcache::http::embedded {

// api/openapi.json: the OpenAPI 3.1 description of every route of both dialects.
std::string_view openapi_json();

// api/docs.html: the reference page that renders openapi.json in a browser, offline.
std::string_view docs_html();

}  // namespace lmcache::http::embedded
