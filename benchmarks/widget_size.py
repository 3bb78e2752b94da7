"""Size of the drop-in widget as browsers download it: raw bytes and gzip -9 bytes.

The budget is 16 KiB gzipped (15 KiB in issue 4; raised when the panel began building its tabs from
the backend's feature descriptors and gained triage); the script exits 1 when the widget is over it.

    .venv/bin/python benchmarks/widget_size.py [--budget-kb 16]
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

WIDGET = Path(__file__).resolve().parent.parent / "widget" / "margin.js"


def sizes(path: Path = WIDGET) -> tuple[int, int]:
    raw = path.read_bytes()
    return len(raw), len(gzip.compress(raw, compresslevel=9, mtime=0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-kb", type=float, default=16.0, help="gzipped budget in KiB (default 16)")
    args = parser.parse_args()
    raw, gzipped = sizes()
    budget = int(args.budget_kb * 1024)
    print(f"widget/margin.js  raw {raw:,} B ({raw / 1024:.1f} KiB)")
    print(f"widget/margin.js  gzip -9 {gzipped:,} B ({gzipped / 1024:.1f} KiB), budget {budget:,} B")
    if gzipped > budget:
        print("OVER BUDGET")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
