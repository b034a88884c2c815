// Validates an OpenAPI document against the official OpenAPI JSON Schema of its version (3.1 for
// api/openapi.json) and resolves every $ref. Exit code 1 with the errors on stderr when invalid.
// Usage: node schema-check.cjs DOCUMENT
"use strict";
const SwaggerParser = require("@apidevtools/swagger-parser");

const path = process.argv[2];
if (!path) {
  console.error("usage: node schema-check.cjs DOCUMENT");
  process.exit(2);
}
SwaggerParser.validate(path)
  .then((api) => {
    if (!/^3\.1\.\d+$/.test(api.openapi)) {
      console.error(`${path}: expected OpenAPI 3.1.x, got ${JSON.stringify(api.openapi)}`);
      process.exit(1);
    }
    console.log(`${path}: valid OpenAPI ${api.openapi} (official schema)`);
  })
  .catch((error) => {
    console.error(`${path}: ${error.message}`);
    process.exit(1);
  });
