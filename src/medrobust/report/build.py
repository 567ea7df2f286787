"""Build the one-file HTML report of a run from its result files.

Every number in the report is read from the files passed in. The only arithmetic done here is
formatting, the per-study sum of benchmark seconds and the tally of verdicts; no metric and no
verdict is recomputed, so the report shows exactly what the studies wrote.

Inputs and how they are read:

* ``results/<study>/metrics.csv`` and ``results/<study>/claims.csv`` (schema in
  :mod:`medrobust.core.records`). A claim's study is the name of the folder holding its file.
* data summaries: long CSVs with columns ``dataset, section, item, statistic, value``, as
  :mod:`medrobust.data.summary` writes them. Each ``(dataset, section)`` becomes one table, items
  as rows and statistics as columns, known sections first (:data:`SECTION_TITLES`), any other
  section under its own name. Per-split MedMNIST sections are first gathered into one
  ``class_counts`` table (see :func:`normalise_summary`).
* Snakemake ``benchmark:`` TSVs at ``results/benchmarks/<study>/<rule>[_<wildcards>].tsv``. A rule
  name may itself hold underscores, so the file's stem is shown whole as the job.
* figures: ``{"path", "caption", "study"}``; PNGs are embedded as base64. Figures of study
  ``data`` go to the data section, under the dataset whose name prefixes the file name
  (``<dataset>_missingness.png``); the rest go to their study's section.
* ``matrix_metrics``: ``{study: metric}``. For each such study the report draws one
  attack-by-defense table per ``(dataset, model, setting)``: rows are attacks, columns defenses,
  cells ``value [ci_low, ci_high]``. When ``config[study]["headline_setting"]`` is given (a
  ``format_setting`` string such as ``"poison_rate=0.02"`` or a mapping) only that setting is
  shown; otherwise every setting gets its own table. Two rows for one cell is an error: the
  report never averages.
"""
from __future__ import annotations

import base64
import json
import math
import numbers
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import jinja2
import pandas as pd
import yaml
from markupsafe import Markup, escape

from medrobust.core.io import write_text
from medrobust.core.records import (CLAIM_COLUMNS, METRIC_COLUMNS, VERDICTS, format_setting,
                                    read_claims, read_metrics)

SUMMARY_COLUMNS = ["dataset", "section", "item", "statistic", "value"]
SECTION_TITLES = {  # also the order of sections within a dataset; others follow alphabetically
    "cohort": "Cohort size",
    "records": "Records",
    "images": "Images",
    "splits": "Images per split",
    "labels": "Label balance",
    "group": "Per group",
    "missingness": "Missingness per variable",
    "static": "Descriptors at admission",
    "duration_s": "Record duration (seconds)",
    "class_counts": "Class counts per split",
}
ITEM_HEADERS = {"missingness": "variable", "static": "descriptor", "labels": "label", "group": "group",
                "splits": "split", "class_counts": "class", "cohort": "partition"}
SPLITS = ("train", "val", "test")
VERDICT_LABELS = {"reproduced": "reproduced", "partly": "partly reproduced", "inconclusive": "inconclusive",
                  "not_reproduced": "not reproduced", "not_run": "not run"}
MAX_METRIC_ROWS = 2000  # per study, in the collapsed full table; the CSV holds the rest
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}


def build_report(out_html: str | os.PathLike, *,
                 metrics_paths: Sequence[str | os.PathLike],
                 claims_paths: Sequence[str | os.PathLike],
                 summary_paths: Sequence[str | os.PathLike],
                 manifest_path: str | os.PathLike | None,
                 benchmark_paths: Sequence[str | os.PathLike],
                 figures: Sequence[Mapping[str, Any]],
                 matrix_metrics: Mapping[str, str],
                 config: Mapping[str, Any]) -> None:
    """Render the run's report as one self-contained HTML file at ``out_html`` (written atomically).

    Raises ``ValueError`` naming the file when a metrics, claims, summary or benchmark file does
    not follow its schema, and ``FileNotFoundError`` when a given file is absent.
    """
    metrics = load_metrics(metrics_paths)
    claims = load_claims(claims_paths)
    summaries = load_summaries(summary_paths)
    manifest = load_manifest(manifest_path)
    timings = load_benchmarks(benchmark_paths)
    embedded = [embed_figure(f) for f in figures]
    config = dict(config or {})

    studies = sorted(set(metrics["study"].astype(str)) | set(claims["study"].astype(str))
                     | set(matrix_metrics)
                     | {f["study"] for f in embedded if f["study"] not in ("data", "scorecard")})
    context = {
        "title": "medrobust report",
        "manifest": manifest_context(manifest),
        "have_results": bool(len(metrics) or len(claims)),
        "n_metric_files": len(metrics_paths),
        "n_claim_files": len(claims_paths),
        "scorecard": scorecard_rows(claims),
        "sanity": scorecard_rows(claims, ("sanity", "finding")),
        "tally": verdict_tally(claims),
        "grid": verdict_grid(claims),
        "forest": [f for f in embedded if f["study"] == "scorecard"],
        "verdict_labels": VERDICT_LABELS,
        "studies": [study_context(s, metrics, claims, embedded, matrix_metrics, config)
                    for s in studies],
        "datasets": data_context(summaries, [f for f in embedded if f["study"] == "data"]),
        "timings": timings_context(timings),
        "config_yaml": config_yaml(config),
    }
    write_text(out_html, render(context))


# ---------------------------------------------------------------------------------- loading

def load_metrics(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    frames = [_read_csv_file(read_metrics, p) for p in paths]
    if not frames:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def load_claims(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """All claims, with a ``study`` column taken from each file's folder (``results/<study>/``)."""
    frames = []
    for path in paths:
        frame = _read_csv_file(read_claims, path)
        frame.insert(0, "study", Path(path).parent.name)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["study", *CLAIM_COLUMNS])
    return pd.concat(frames, ignore_index=True)


def read_summary(path: str | os.PathLike) -> pd.DataFrame:
    """One data-summary CSV (``dataset, section, item, statistic, value``)."""
    frame = _read_csv_file(lambda p: pd.read_csv(p, keep_default_na=False, na_values=[""],
                                                 dtype={"item": str, "statistic": str}), path)
    missing = [c for c in SUMMARY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {SUMMARY_COLUMNS}")
    return frame[SUMMARY_COLUMNS]


def load_summaries(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    frames = [normalise_summary(read_summary(p)) for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SUMMARY_COLUMNS)


def normalise_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Bring the summary writers' layouts to the one the report draws (no value changes).

    * section ``label`` is read as ``labels``;
    * per-split sections (``train``/``val``/``test``, as :mod:`medrobust.data.summary` writes for
      MedMNIST) become ``class_counts`` (item = class, statistic = split) from their ``count`` rows
      and ``splits`` (item = split, statistic ``n_images``) from their ``n_images`` rows.
    """
    frame = frame.copy()
    frame["section"] = frame["section"].astype(str).replace({"label": "labels"})
    split = frame["section"].isin(SPLITS)
    counts = split & (frame["statistic"] == "count")
    sizes = split & (frame["statistic"] == "n_images")
    frame.loc[counts, "statistic"] = frame.loc[counts, "section"]
    frame.loc[counts, "section"] = "class_counts"
    frame.loc[sizes, "item"] = frame.loc[sizes, "section"]
    frame.loc[sizes, "section"] = "splits"
    return frame


def load_manifest(path: str | os.PathLike | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(manifest, dict):
        raise ValueError(f"{path}: expected a JSON object at the top level")
    return manifest


def load_benchmarks(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """One row per benchmark file: study (its folder), job (its stem) and the mean of its repeats."""
    rows = []
    for path in paths:
        path = Path(path)
        frame = _read_csv_file(lambda p: pd.read_csv(p, sep="\t"), path)
        if "s" not in frame.columns:
            raise ValueError(f"{path}: not a Snakemake benchmark file (no 's' column)")

        def mean(col: str) -> float:
            if col not in frame.columns:
                return math.nan
            return float(pd.to_numeric(frame[col], errors="coerce").mean())

        study = path.parent.name if path.parent.name != "benchmarks" else "(no study)"
        rows.append({"study": study, "job": path.stem, "repeats": len(frame), "seconds": mean("s"),
                     "cpu_time": mean("cpu_time"), "max_rss": mean("max_rss"),
                     "mean_load": mean("mean_load")})
    columns = ["study", "job", "repeats", "seconds", "cpu_time", "max_rss", "mean_load"]
    return pd.DataFrame(rows, columns=columns)


def embed_figure(figure: Mapping[str, Any]) -> dict[str, Any]:
    for key in ("path", "study"):
        if key not in figure:
            raise ValueError(f"figure {dict(figure)!r} has no {key!r}")
    path = Path(figure["path"])
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        raise ValueError(f"{path}: figures must be one of {sorted(_MIME)}")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return {"study": str(figure["study"]), "name": path.name,
            "src": f"data:{mime};base64,{data}",
            "caption": caption_html(str(figure.get("caption", "") or ""))}


def _read_csv_file(reader: Callable[[Any], pd.DataFrame], path: str | os.PathLike) -> pd.DataFrame:
    try:
        return reader(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: cannot be read as a table ({err})") from err


# ---------------------------------------------------------------------------------- sections

def scorecard_rows(claims: pd.DataFrame, kinds: Sequence[str] = ("claim",)) -> list[dict[str, Any]]:
    """One compact row per claim of the given kinds (published claims; or sanity checks and findings).

    The row holds what a reader scans (title, paper value, measured [CI], n / seeds, verdict, gate in a
    few words); the long statement, rule, why, scale and source go in the row's expandable detail.
    """
    rows = []
    chosen = claims[claims["kind"].isin(kinds)] if "kind" in claims else claims
    for _, c in chosen.sort_values(["study", "claim_id"], kind="mergesort").iterrows():
        passed = bool(c.get("gate_passed", False))
        rows.append({"study": c["study"], "anchor": _anchor("study", c["study"]), "claim_id": c["claim_id"],
                     "kind": c.get("kind", "claim"), "title": _blank(c.get("title")) or c["claim_id"],
                     "statement": c["statement"],
                     "source": _text(c["source"]), "paper_value": _text(c["paper_value"]),
                     "measured": with_ci(c["measured"], c["ci_low"], c["ci_high"]),
                     "n": _count(c.get("n")), "seeds": _count(c.get("seeds")),
                     "verdict": c["verdict"], "rule": _text(c["rule"]), "why": _blank(c.get("why")),
                     "gate": _blank(c.get("gate")), "gate_value": _blank(c.get("gate_value")),
                     "gate_passed": passed, "gate_short": gate_short(c), "scale": _blank(c.get("scale"))})
    return rows


def gate_short(claim: Mapping[str, Any]) -> str:
    """The gate in a few words: 'passed', or the failed gates with their measured values."""
    if claim.get("verdict") == "not_run":
        return "not reached"
    values = _blank(claim.get("gate_value"))
    if not values:
        return "—"
    if bool(claim.get("gate_passed", False)):
        return "passed"
    failed = [part.replace(" (FAILED)", "") for part in values.split("; ") if part.endswith("(FAILED)")]
    return "failed: " + "; ".join(failed) if failed else "failed"


def verdict_tally(claims: pd.DataFrame) -> list[dict[str, Any]]:
    if "kind" in claims:
        claims = claims[claims["kind"] == "claim"]
    counts = claims["verdict"].value_counts()
    return [{"verdict": v, "count": int(counts.get(v, 0))} for v in VERDICTS if counts.get(v, 0)]


def verdict_grid(claims: pd.DataFrame) -> dict[str, Any]:
    """Studies x verdicts (published claims only), the sanity/finding counts, and a sentence on what
    this run's scale could decide."""
    published = claims[claims["kind"] == "claim"] if "kind" in claims else claims
    others = claims[claims["kind"] != "claim"] if "kind" in claims else claims.iloc[0:0]
    rows = []
    for study in sorted(set(claims["study"].astype(str))):
        mine = published[published["study"] == study]
        counts = mine["verdict"].value_counts()
        rows.append({"study": study, "anchor": _anchor("study", study),
                     "counts": [int(counts.get(v, 0)) for v in VERDICTS], "total": len(mine),
                     "decided": int(counts.get("reproduced", 0) + counts.get("not_reproduced", 0)
                                    + counts.get("partly", 0)),
                     "other": int((others["study"] == study).sum())})
    counts = published["verdict"].value_counts()
    totals = [int(counts.get(v, 0)) for v in VERDICTS]
    decided = sum(r["decided"] for r in rows)
    undecided = int(counts.get("inconclusive", 0))
    gated = int(((published["verdict"] == "inconclusive") & ~published["gate_passed"].astype(bool)).sum()) \
        if "gate_passed" in published else 0
    sentence = (f"At this run's scale, {decided} of {len(published)} published claims could be decided "
                f"(reproduced, partly or not reproduced); {undecided} are inconclusive, {gated} of them because "
                f"a gate failed (the run could not test them) and {undecided - gated} because the interval "
                f"straddles the claim's threshold.")
    if counts.get("not_run", 0):
        sentence += f" {int(counts['not_run'])} were not run."
    return {"verdicts": list(VERDICTS), "rows": rows, "totals": totals, "total": len(published),
            "other": len(others), "sentence": sentence}


def study_context(study: str, metrics: pd.DataFrame, claims: pd.DataFrame,
                  figures: list[dict[str, Any]], matrix_metrics: Mapping[str, str],
                  config: Mapping[str, Any]) -> dict[str, Any]:
    rows = metrics[metrics["study"].astype(str) == study]
    matrices: list[dict[str, Any]] = []
    matrix_note = ""
    metric = matrix_metrics.get(study)
    if metric is not None:
        study_config = config.get(study)
        headline = study_config.get("headline_setting") if isinstance(study_config, Mapping) else None
        matrices, matrix_note = defense_matrices(rows, study, metric, headline)
    table = rows.sort_values(["dataset", "model", "attack", "defense", "setting", "metric"],
                             kind="mergesort")
    return {
        "name": study,
        "anchor": _anchor("study", study),
        "tally": verdict_tally(claims[claims["study"] == study]),
        "verdicts": scorecard_rows(claims[claims["study"] == study], ("claim", "sanity", "finding")),
        "sources": list(dict.fromkeys(str(x) for x in claims.loc[claims["study"] == study, "source"]
                                      if _blank(x))),
        "scales": list(dict.fromkeys(str(x) for x in claims.loc[claims["study"] == study, "scale"]
                                     if _blank(x))) if "scale" in claims else [],
        "datasets": sorted(set(rows["dataset"].astype(str))),
        "matrix_metric": metric,
        "matrices": matrices,
        "matrix_note": matrix_note,
        "figures": [f for f in figures if f["study"] == study],
        "n_metrics": len(rows),
        "metrics": [_metric_row(r) for _, r in table.head(MAX_METRIC_ROWS).iterrows()],
        "metrics_truncated": len(rows) > MAX_METRIC_ROWS,
    }


def defense_matrices(rows: pd.DataFrame, study: str, metric: str,
                     headline: str | Mapping[str, Any] | None) -> tuple[list[dict[str, Any]], str]:
    """Attack-by-defense tables of ``metric`` for one study, and a note on which settings are shown."""
    rows = rows[rows["metric"] == metric]
    if not len(rows):
        return [], f"no rows with metric {metric!r}"
    note = "every setting is shown, one table each" if rows["setting"].nunique() > 1 else ""
    if headline is not None:
        setting = headline if isinstance(headline, str) else format_setting(headline)
        chosen = rows[rows["setting"] == setting]
        if len(chosen):
            rows, note = chosen, f"headline setting {setting or '(default)'}"
        else:
            note = f"the headline setting {setting!r} has no rows, so every setting is shown"
    tables = []
    for (dataset, model, setting), group in rows.groupby(["dataset", "model", "setting"], sort=True):
        dup = group.duplicated(["attack", "defense"], keep=False)
        if dup.any():
            first = group[dup].iloc[0]
            raise ValueError(f"study {study}: metric {metric!r} has {int(dup.sum())} rows for attack "
                             f"{first['attack']!r} x defense {first['defense']!r} (dataset {dataset}, "
                             f"model {model}, setting {setting!r}); the matrix needs one per cell")
        attacks, defenses = baseline_first(group["attack"]), baseline_first(group["defense"])
        lo, hi = group["value"].min(), group["value"].max()
        cells = {(r["attack"], r["defense"]): r for _, r in group.iterrows()}
        body = []
        for attack in attacks:
            line = []
            for defense in defenses:
                r = cells.get((attack, defense))
                if r is None:
                    line.append(None)
                    continue
                shade = 0.0 if hi == lo else 0.08 + 0.32 * (r["value"] - lo) / (hi - lo)
                line.append({"value": fmt_metric(r["value"]), "ci": fmt_ci(r["ci_low"], r["ci_high"]),
                             "n": _count(r["n"]), "seeds": _count(r["seeds"]),
                             "style": f"background-color: rgba(37, 99, 235, {shade:.2f})"})
            body.append({"attack": attack, "cells": line})
        tables.append({"dataset": dataset, "model": model, "setting": setting,
                       "defenses": defenses, "rows": body})
    return tables, note


def data_context(summaries: pd.DataFrame, figures: list[dict[str, Any]]) -> dict[str, Any]:
    datasets = list(dict.fromkeys(summaries["dataset"].astype(str)))
    by_dataset: dict[str, list[dict[str, Any]]] = {d: [] for d in datasets}
    unplaced = []
    for fig in figures:
        owners = [d for d in datasets if fig["name"].startswith(f"{d}_")]
        if owners:
            by_dataset[max(owners, key=len)].append(fig)
        else:
            unplaced.append(fig)
    out = []
    for dataset in datasets:
        part = summaries[summaries["dataset"].astype(str) == dataset]
        sections = list(dict.fromkeys(part["section"].astype(str)))
        known = [s for s in SECTION_TITLES if s in sections]
        ordered = known + sorted(s for s in sections if s not in SECTION_TITLES)
        tables = [_summary_table(part[part["section"].astype(str) == s], s) for s in ordered]
        out.append({"name": dataset, "anchor": _anchor("data", dataset), "tables": tables,
                    "figures": by_dataset[dataset]})
    return {"datasets": out, "other_figures": unplaced}


def manifest_context(manifest: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if manifest is None:
        return None
    determinism = manifest.get("determinism") or {}
    if not isinstance(determinism, Mapping):
        determinism = {"determinism": determinism}
    return {
        "created": _text(manifest.get("created")),
        "git_commit": manifest.get("git_commit") or "",
        "inputs": [{key: entry.get(key) for key in
                    ("dataset", "path", "sha256", "bytes", "source", "verified_against")}
                   for entry in manifest.get("inputs") or []],
        "weights": [{key: entry.get(key) for key in ("study", "file", "sha256", "bytes")}
                    for entry in manifest.get("weights") or []],
        "n_environment": len(manifest.get("environment") or []),
        "software": sorted((str(k), _text(v)) for k, v in (manifest.get("software") or {}).items()),
        "determinism": [(str(k), _plain(v)) for k, v in determinism.items()],
    }


def timings_context(timings: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for study, group in timings.groupby("study", sort=True):
        group = group.sort_values("job", kind="mergesort")
        total = float(group["seconds"].sum(min_count=1))
        out.append({"study": study, "total": fmt_duration(total), "total_s": fmt_num(total, 1),
                    "jobs": [{"job": r["job"], "seconds": fmt_num(r["seconds"], 1),
                              "hms": fmt_duration(r["seconds"]),
                              "cpu_time": fmt_num(r["cpu_time"], 1),
                              "max_rss": fmt_num(r["max_rss"], 0),
                              "mean_load": fmt_num(r["mean_load"], 1),
                              "repeats": int(r["repeats"])} for _, r in group.iterrows()]})
    return out


def config_yaml(config: Mapping[str, Any]) -> str:
    if not config:
        return ""
    plain = json.loads(json.dumps(config, default=str))  # numpy scalars, paths -> plain values
    return yaml.safe_dump(plain, sort_keys=False, default_flow_style=False, allow_unicode=True)


def render(context: Mapping[str, Any]) -> str:
    env = jinja2.Environment(loader=jinja2.PackageLoader("medrobust.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["bytes"] = fmt_bytes
    env.filters["link"] = link_html
    return env.get_template("report.html").render(**context)


# ---------------------------------------------------------------------------------- formatting

def fmt_num(x: Any, digits: int | None = None) -> str:
    """A number for a table cell: 3 significant digits below 1000, thousands separators above."""
    if x is None or isinstance(x, str):
        return "—" if not x else x
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(x):
        return "—"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if digits is not None:
        return f"{x:,.{digits}f}"
    if x.is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:.3g}" if abs(x) < 100 else f"{x:.1f}"
    if abs(x) >= 0.001:
        return f"{x:.3f}"
    return f"{x:.2e}"


def fmt_metric(x: Any) -> str:
    """A measured value: three decimals on the [-1, 1] scale of rates and AUCs (so 0 reads 0.000)."""
    if not _missing(x) and isinstance(x, numbers.Real) and abs(float(x)) <= 1:
        return f"{float(x):.3f}"
    return fmt_num(x)


def fmt_ci(low: Any, high: Any) -> str:
    if _missing(low) or _missing(high):
        return ""
    return f"[{fmt_metric(low)}, {fmt_metric(high)}]"


def with_ci(value: Any, low: Any, high: Any) -> str:
    ci = fmt_ci(low, high)
    return f"{fmt_metric(value)} {ci}" if ci else fmt_metric(value)


def fmt_duration(seconds: Any) -> str:
    if _missing(seconds):
        return "—"
    total = int(round(float(seconds)))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else (f"{m}m {s:02d}s" if m else f"{s}s")


def fmt_bytes(n: Any) -> str:
    if _missing(n):
        return "—"
    n = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def link_html(text: Any) -> Markup:
    """An http(s) address as a link; anything else as escaped text."""
    if _missing(text) or text == "":
        return Markup("—")
    text = str(text)
    if re.match(r"https?://", text):
        return Markup('<a href="{0}">{0}</a>').format(text)
    return Markup(escape(text))


def caption_html(text: str) -> Markup:
    """The little reStructuredText a caption uses: paragraphs, ``code``, **strong**, *emphasis*."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    out = []
    for para in paragraphs:
        html = str(escape(" ".join(para.split())))
        html = re.sub(r"``(.+?)``", r"<code>\1</code>", html)
        html = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html)
        html = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", html)
        html = re.sub(r"`([^`<]+?) &lt;(https?://[^&]+?)&gt;`_", r'<a href="\2">\1</a>', html)
        out.append(f"<p>{html}</p>")
    return Markup("".join(out))


def _summary_table(part: pd.DataFrame, section: str) -> dict[str, Any]:
    items = list(dict.fromkeys(part["item"].astype(str)))
    stats = list(dict.fromkeys(part["statistic"].astype(str)))
    values = {(str(r["item"]), str(r["statistic"])): r["value"] for _, r in part.iterrows()}
    rows = [{"item": i, "cells": [fmt_num(values.get((i, s))) for s in stats]} for i in items]
    return {"section": section, "title": SECTION_TITLES.get(section, section.replace("_", " ").capitalize()),
            "item_header": ITEM_HEADERS.get(section, "item"), "show_items": items != ["all"],
            "statistics": [s.replace("_", " ") for s in stats], "rows": rows, "long": len(rows) > 12}


def _metric_row(r: pd.Series) -> dict[str, Any]:
    return {"dataset": r["dataset"], "model": r["model"], "attack": r["attack"], "defense": r["defense"],
            "setting": r["setting"], "metric": r["metric"], "value": fmt_metric(r["value"]),
            "ci": fmt_ci(r["ci_low"], r["ci_high"]), "n": _count(r["n"]), "seeds": _count(r["seeds"])}


def baseline_first(values: pd.Series) -> list[str]:
    """Unique values in sorted order, with the no-attack / no-defense baseline ``none`` first."""
    unique = sorted(set(values.astype(str)))
    return (["none"] if "none" in unique else []) + [v for v in unique if v != "none"]


def _plain(x: Any) -> str:
    if isinstance(x, (Mapping, list, tuple)):
        return json.dumps(x, sort_keys=True, default=str)
    return _text(x)


def _count(x: Any) -> str:
    return "" if _missing(x) else fmt_num(x)


def _blank(x: Any) -> str:
    """Text of an optional cell, '' when empty."""
    return "" if _missing(x) or str(x).strip() in ("", "nan") else str(x)


def _text(x: Any) -> str:
    if _missing(x):
        return "—"
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def _missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _anchor(prefix: str, name: str) -> str:
    return f"{prefix}-" + re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")
