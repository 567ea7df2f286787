"""Compare two runs' result CSVs byte for byte, except wall-clock timing rows.

Rows whose metric ends in ``_seconds`` (e.g. the enhancement study's check_seconds) measure how long
something took on that machine; they are the only rows allowed to differ between executors.
Usage: python compare_results.py <run-a> <run-b>; exits 1 naming the first file that differs.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def comparable(path: Path) -> str:
    if path.name == "metrics.csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        return frame[~frame["metric"].str.endswith("_seconds")].to_csv(index=False)
    return path.read_text()


def main(a: Path, b: Path) -> int:
    files = sorted(p.relative_to(a) for p in (a / "results").rglob("*.csv") if "benchmarks" not in p.parts)
    for rel in files:
        if comparable(a / rel) != comparable(b / rel):
            print(f"differs between {a.name} and {b.name}: {rel}", file=sys.stderr)
            return 1
    print(f"identical under both executors: {len(files)} result files (timing rows set aside)")
    return 0 if files else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
