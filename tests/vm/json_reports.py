# SPDX-License-Identifier: GPL-2.0
# Print the first N (default 1) JSON reports of a scx_fairrs --monitor --json
# stream, one per line, and stop reading as soon as the last is complete.
# A report is pretty-printed, so it ends at a line that is just "}"; parsing
# only there keeps this linear (retrying the parse at every line is quadratic
# and, under emulation, takes seconds per report).
import json
import sys

want = int(sys.argv[1]) if len(sys.argv) > 1 else 1
lines = []
for line in sys.stdin:
    lines.append(line)
    if line.rstrip("\n") != "}":
        continue
    text = "".join(lines)
    lines = []
    print(json.dumps(json.loads(text[text.index("{"):])), flush=True)
    want -= 1
    if want == 0:
        sys.exit(0)
sys.exit("fewer complete JSON reports in the input than asked for")
