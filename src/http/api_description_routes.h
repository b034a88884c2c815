// GET /openapi.json and GET /docs: the API description embedded in the binary, and a page that
// renders it (spec: operations.md section 2).
#pragma once

#include "http/router.h"

namespace lmcache::http {

// Adds GET /openapi.json (application/json, the document verbatim) and GET /docs (text/html, a
// page that fetches /openapi.json and needs no network beyond this server).
void add_api_description_routes(Router& router);

}  // namespace lmcache::http
