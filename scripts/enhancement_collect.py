"""Pool the enhancement study's per-task files into results/enhancement/metrics.csv and claims.csv."""
from medrobust.core.runlog import to_rule_log
from medrobust.core.records import write_claims, write_metrics
from medrobust.enhancement.collect import collect_files

log = to_rule_log(snakemake.log[0])
p, i = snakemake.params, snakemake.input
metrics, claims = collect_files(p.tasks, i.manifests, i.cv, i.checks, i.external, i.attacks, p.dataset,
                                p.headline_target, p.bootstrap, p.seed)
write_metrics(snakemake.output.metrics, metrics)
write_claims(snakemake.output.claims, claims)
log.info("%d metric rows; claims: %s", len(metrics), {c.claim_id: (c.verdict, round(c.measured, 3)) for c in claims})
