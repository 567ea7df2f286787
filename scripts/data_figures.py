"""Data-summary figures of one dataset, from its stored summary.csv."""
from pathlib import Path

from medrobust.core.runlog import to_rule_log
from medrobust.report.figures import plot_data_summary

log = to_rule_log(snakemake.log[0])
out_dir = Path(snakemake.output[0])
out_dir.mkdir(parents=True, exist_ok=True)
paths = plot_data_summary(snakemake.input[0], out_dir)
log.info("wrote %s", [p.name for p in paths])
