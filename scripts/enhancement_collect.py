"""Pool the enhancement study's per-draw, per-task files into results/enhancement/metrics.csv,
claims.csv and edit_magnitude.csv."""
from medrobust.core.io import write_csv
from medrobust.core.runlog import to_rule_log
from medrobust.core.records import write_claims, write_metrics
from medrobust.enhancement.collect import collect_files

log = to_rule_log(snakemake.log[0])
p, i = snakemake.params, snakemake.input
metrics, claims, edits = collect_files(p.draw_tasks, i.manifests, i.cv, i.checks, i.external, i.attacks, p.dataset,
                                       p.headline_target, p.bootstrap, p.seed, p.folds, p.attack_steps)
write_metrics(snakemake.output.metrics, metrics)
write_claims(snakemake.output.claims, claims)
write_csv(snakemake.output.edits, edits)
log.info("%d metric rows; claims: %s", len(metrics), {c.claim_id: (c.verdict, round(c.measured, 3)) for c in claims})
