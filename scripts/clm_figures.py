"""The clm study's figures (results/clm/figures/*.png)."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

from medrobust.clm.figures import draw_all  # noqa: E402

draw_all(snakemake.input.metrics, snakemake.input.runs, snakemake.params.clm, dict(snakemake.output))
