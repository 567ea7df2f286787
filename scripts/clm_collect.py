"""Pool the clm jobs into results/clm/metrics.csv and judge the claims into results/clm/claims.csv."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

from medrobust.clm.collect import collect_files  # noqa: E402
from medrobust.core.records import write_claims, write_metrics  # noqa: E402

metrics, claims = collect_files(snakemake.input.runs, snakemake.params.clm, snakemake.params.dataset,
                                snakemake.params.seed, snakemake.params.bootstrap)
write_metrics(snakemake.output.metrics, metrics)
write_claims(snakemake.output.claims, claims)
log.info("%d metric rows; claims %s", len(metrics), {c.claim_id: c.verdict for c in claims})
