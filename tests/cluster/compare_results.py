"""Compare two runs' result CSVs byte for byte, except wall-clock timings.

Timings measure how fast something ran on that machine, so they are the only values allowed to
differ between executors or runs: rows of a ``metrics.csv`` whose metric ends in ``_seconds`` (e.g. the
enhancement study's check_seconds) or is ``throughput`` (the ecg study's attack examples x iterations
per second), and, in any CSV, columns named ``seconds`` or ``*_seconds`` (e.g. the per-check cost
column of the enhancement study's checks.csv).
Usage: python compare_results.py <run-a> <run-b>; exits 1 naming the first file that differs.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def is_timing(name: str) -> bool:
    return name in ("seconds", "throughput") or name.endswith("_seconds")


def comparable(path: Path) -> str:
    if not path.read_text().strip():
        return ""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if path.name == "metrics.csv":
        frame = frame[~frame["metric"].map(is_timing)]
    return frame.drop(columns=[c for c in frame.columns if is_timing(c)]).to_csv(index=False)


def main(a: Path, b: Path) -> int:
    files = sorted(p.relative_to(a) for p in (a / "results").rglob("*.csv") if "benchmarks" not in p.parts)
    for rel in files:
        if comparable(a / rel) != comparable(b / rel):
            print(f"differs between {a.name} and {b.name}: {rel}", file=sys.stderr)
            return 1
    if not files:
        print(f"no result files under {a / 'results'}: nothing to compare", file=sys.stderr)
        return 1
    print(f"identical under both executors: {len(files)} result files (wall-clock timings set aside)")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
