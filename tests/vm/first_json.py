# SPDX-License-Identifier: GPL-2.0
# Print the first complete JSON object of a stream of pretty-printed objects
# (scx_fairrs --monitor --json), and stop reading as soon as it is complete.
import json
import sys

buf = ""
decoder = json.JSONDecoder()
for line in sys.stdin:
    buf += line
    start = buf.find("{")
    if start < 0:
        continue
    try:
        obj, _ = decoder.raw_decode(buf[start:])
    except ValueError:
        continue
    print(json.dumps(obj))
    sys.exit(0)
sys.exit("no complete JSON object in the input")
