"""Draw the scorecard's forest plot from the studies' stored claims (never recomputes a verdict)."""
from pathlib import Path

from medrobust.core.plots import forest_plot
from medrobust.core.records import read_claims
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])
rows = []
for path in snakemake.input.claims:
    frame = read_claims(path)
    frame.insert(0, "study", Path(path).parent.name)
    rows += frame.to_dict("records")
forest_plot(rows, snakemake.output.forest)
log.info("forest plot: %d claims from %d files", len(rows), len(snakemake.input.claims))
