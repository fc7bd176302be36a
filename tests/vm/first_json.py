# SPDX-License-Identifier: GPL-2.0
# Print the first complete JSON object of a stream of pretty-printed objects.
import json
import sys

text = sys.stdin.read()
start = text.find("{")
if start < 0:
    sys.exit("no JSON object in the input")
obj, _ = json.JSONDecoder().raw_decode(text[start:])
print(json.dumps(obj))
