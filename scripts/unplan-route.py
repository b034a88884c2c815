#!/usr/bin/env python3
"""Removes the x-lmcache-planned mark of served operations in api/openapi.json, in place and
line by line (the document's hand formatting is kept).

Usage: scripts/unplan-route.py "get /ui" "post /cache/delete" ...
"""
import json
import sys

PATH = "api/openapi.json"


def main(targets):
    lines = open(PATH).read().split("\n")
    paths_at = lines.index('  "paths": {')
    for target in targets:
        method, path = target.split(" ", 1)
        start = lines.index(f'    "{path}": {{', paths_at)
        op = lines.index(f'      "{method}": {{', start)
        mark = next(i for i in range(op, len(lines)) if '"x-lmcache-planned": true' in lines[i])
        end = next(i for i in range(op + 1, len(lines)) if lines[i] == "      }" or lines[i] == "      },")
        if mark > end:
            sys.exit(f"{target}: not marked planned")
        del lines[mark]
    text = "\n".join(lines)
    doc = json.loads(text)
    for target in targets:
        method, path = target.split(" ", 1)
        assert "x-lmcache-planned" not in doc["paths"][path][method], target
    open(PATH, "w").write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
