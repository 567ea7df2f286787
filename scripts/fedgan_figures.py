"""Draw the fedgan study's figures from its stored results (never retrains)."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

from medrobust.core.io import read_npz  # noqa: E402
from medrobust.core.records import read_metrics  # noqa: E402
from medrobust.fedgan.figures import draw_all  # noqa: E402

draw_all(read_metrics(snakemake.input.metrics), [read_npz(p) for p in snakemake.input.runs],
         snakemake.params.threshold, dict(snakemake.output.items()))
