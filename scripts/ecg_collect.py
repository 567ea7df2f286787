"""The ecg study's metrics.csv and claims.csv, from its jobs' arrays."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

from medrobust.core.io import read_npz  # noqa: E402
from medrobust.core.records import write_claims, write_metrics  # noqa: E402
from medrobust.core.seeding import make_rng  # noqa: E402
from medrobust.ecg.collect import collect  # noqa: E402
from medrobust.ecg.split import Prepared  # noqa: E402

defenses = {name: read_npz(path) for name, path in zip(snakemake.params.defenses, snakemake.input.defenses)}
metrics, claims = collect(Prepared.from_arrays(read_npz(snakemake.input.prepared)), read_npz(snakemake.input.evaluation),
                          read_npz(snakemake.input.attacks), defenses, snakemake.params.ecg, snakemake.params.fs,
                          make_rng(snakemake.params.seed, "ecg", "collect"), snakemake.params.bootstrap,
                          snakemake.params.labels)
write_metrics(snakemake.output.metrics, metrics)
write_claims(snakemake.output.claims, claims)
log.info("%d metric rows, %d claims", len(metrics), len(claims))
