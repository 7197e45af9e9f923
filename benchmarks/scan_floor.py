"""The floor of the whole-command parse benchmark: a Python process that reads every file under a
directory and scans its bytes for ticker lines (bench_parse.FLOOR_PATTERN), printing how many it found.

    python -m benchmarks.scan_floor DIR
"""

from __future__ import annotations

import os
import re
import sys

# bench_parse.FLOOR_PATTERN, not imported from there: this process pays for nothing but its own work.
FLOOR_PATTERN = re.compile(rb"([A-Z]{3})/USD = (\S+) (\S+)%")


def main(directory: str) -> None:
    lines = 0
    for folder, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            with open(os.path.join(folder, name), "rb") as handle:
                lines += sum(1 for _ in FLOOR_PATTERN.finditer(handle.read()))
    print(lines)


if __name__ == "__main__":
    main(sys.argv[1])
