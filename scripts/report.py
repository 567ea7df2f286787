"""Compile reports/report.html from stored results only: never retrains anything."""
from pathlib import Path

from medrobust.core.runlog import to_rule_log
from medrobust.report.build import build_report
from medrobust.report.figures import data_figures

log = to_rule_log(snakemake.log[0])
studies = snakemake.params.studies
data_pngs = sorted(p for d in snakemake.input.data_figures for p in Path(d).glob("*.png"))
figures = data_figures(data_pngs) + [
    {"path": png, "caption": Path(caption).read_text(), "study": study}
    for study, entry in studies.items() for png, caption in entry["figures"]
] + [{"path": snakemake.input.forest, "caption": Path(snakemake.params.forest_caption).read_text(),
      "study": "scorecard"}]
benchmarks = sorted(str(p) for p in Path(snakemake.params.benchmarks).rglob("*.tsv"))
build_report(
    snakemake.output[0],
    metrics_paths=list(snakemake.input.metrics),
    claims_paths=list(snakemake.input.claims),
    summary_paths=list(snakemake.input.summaries),
    manifest_path=snakemake.input.manifest,
    benchmark_paths=benchmarks,
    figures=figures,
    matrix_metrics={s: e["matrix_metric"] for s, e in studies.items() if e["matrix_metric"]},
    config=snakemake.config,
)
log.info("report: %d studies, %d figures, %d benchmark files", len(studies), len(figures), len(benchmarks))
