"""Draw the ecg study's figures from its stored results (never retrains)."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

from medrobust.core.io import read_npz  # noqa: E402
from medrobust.core.records import read_metrics  # noqa: E402
from medrobust.ecg.figures import draw_all  # noqa: E402

defenses = dict(zip(snakemake.params.defenses, snakemake.input.defenses))
draw_all(read_metrics(snakemake.input.metrics), read_npz(snakemake.input.prepared), read_npz(snakemake.input.attacks),
         read_npz(defenses["detectors"]) if "detectors" in defenses else None,
         read_npz(defenses["randomized_smoothing"]) if "randomized_smoothing" in defenses else None,
         float(snakemake.params.headline_eps), snakemake.params.fs, dict(snakemake.output.items()))
