"""Prints the YAML documents of each file (or stdin, "-") as one JSON array of arrays, for the deploy tests.
YAML merge keys (<<) are resolved, as Docker Compose does."""
import json
import sys

import yaml

out = []
for name in sys.argv[1:] or ["-"]:
    text = sys.stdin.read() if name == "-" else open(name, encoding="utf-8").read()
    out.append([d for d in yaml.safe_load_all(text) if d is not None])
json.dump(out, sys.stdout)
