"""Draw the ehr study's figures from its stored results (never retrains)."""
from medrobust.core.runlog import to_rule_log
from medrobust.core.io import read_npz
from medrobust.core.records import format_setting, read_metrics
from medrobust.ehr.figures import draw_all

log = to_rule_log(snakemake.log[0])
draw_all(read_metrics(snakemake.input.metrics), read_npz(snakemake.input.triggers), read_npz(snakemake.input.flags),
         format_setting(snakemake.params.headline), dict(snakemake.output.items()))
