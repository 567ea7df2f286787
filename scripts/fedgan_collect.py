"""Pool the fedgan runs into results/fedgan/metrics.csv and judge the claims into results/fedgan/claims.csv."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

from medrobust.core.io import read_npz  # noqa: E402
from medrobust.core.records import write_claims, write_metrics  # noqa: E402
from medrobust.fedgan.collect import collect  # noqa: E402

params = snakemake.params
metrics, claims = collect([read_npz(p) for p in snakemake.input.runs], read_npz(snakemake.input.evaluators),
                          params.fedgan, params.dataset, params.seed, params.bootstrap)
write_metrics(snakemake.output.metrics, metrics)
write_claims(snakemake.output.claims, claims)
log.info("%d metric rows, %d claims: %s", len(metrics), len(claims), {c.claim_id: c.verdict for c in claims})
