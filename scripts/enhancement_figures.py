"""The enhancement study's figures (results/enhancement/figures/*.png)."""
from medrobust.core.runlog import to_rule_log
from medrobust.core.io import read_npz
from medrobust.core.records import read_metrics
from medrobust.enhancement.figures import draw_figures

log = to_rule_log(snakemake.log[0])
draw_figures(read_metrics(snakemake.input.metrics), [read_npz(f) for f in snakemake.input.attacks],
             dict(snakemake.output.items()), snakemake.params.headline_target)
log.info("wrote %s", ", ".join(snakemake.output))
