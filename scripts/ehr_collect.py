"""Pool the ehr jobs into results/ehr/metrics.csv and judge the claims into results/ehr/claims.csv."""
from medrobust.core.runlog import to_rule_log
from medrobust.core.io import read_npz
from medrobust.core.records import write_claims, write_metrics
from medrobust.ehr.collect import collect

log = to_rule_log(snakemake.log[0])
metrics, claims = collect([read_npz(p) for p in snakemake.input.runs], read_npz(snakemake.input.checks),
                          read_npz(snakemake.input.flags), snakemake.params.ehr, snakemake.params.dataset,
                          snakemake.params.seed)
write_metrics(snakemake.output.metrics, metrics)
write_claims(snakemake.output.claims, claims)
log.info("%d metric rows, %d claims: %s", len(metrics), len(claims),
         {c.claim_id: c.verdict for c in claims})
