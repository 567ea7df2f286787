"""The few lines ``make reproduce`` prints at its end: where the report is, the verdicts, the time.

    python -m medrobust.report.summary --since <unix seconds> [--results results] [--report reports/report.html]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from medrobust.core.records import VERDICTS, read_claims


def summary_lines(results: Path, report: Path, seconds: float | None) -> list[str]:
    counts = {v: 0 for v in VERDICTS}
    other = 0
    for path in sorted(results.glob("*/claims.csv")):
        frame = read_claims(path)
        published = frame[frame["kind"] == "claim"]
        other += len(frame) - len(published)
        for verdict, n in published["verdict"].value_counts().items():
            counts[verdict] += int(n)
    tally = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in counts.items() if n) or "no claims"
    lines = [f"report: {report.resolve()}",
             f"verdicts of {sum(counts.values())} published claims: {tally}"
             + (f" (and {other} sanity checks/findings)" if other else "")]
    if seconds is not None:
        m, s = divmod(int(round(seconds)), 60)
        lines.append(f"total time: {m} min {s:02d} s")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--since", type=float, help="the run's start, in Unix seconds")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--report", type=Path, default=Path("reports/report.html"))
    args = parser.parse_args(argv)
    seconds = time.time() - args.since if args.since else None
    print("\n".join(summary_lines(args.results, args.report, seconds)))


if __name__ == "__main__":
    main()
