"""Score the fedgan runs' samples, pool them into results/fedgan/metrics.csv and judge the claims into claims.csv."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

import torch  # noqa: E402

from medrobust.core.io import read_npz  # noqa: E402
from medrobust.core.records import write_claims, write_metrics  # noqa: E402
from medrobust.fedgan.claims import judge_all  # noqa: E402
from medrobust.fedgan.collect import metric_rows, pool  # noqa: E402

params = snakemake.params
torch.set_num_threads(snakemake.threads)
pooled = pool([read_npz(p) for p in snakemake.input.runs], read_npz(snakemake.input.evaluators), params.fedgan,
              params.dataset, params.seed)
metrics, claims = metric_rows(pooled, params.dataset), judge_all(pooled)
write_metrics(snakemake.output.metrics, metrics)
write_claims(snakemake.output.claims, claims)
log.info("%d metric rows, %d claims: %s", len(metrics), len(claims), {c.claim_id: c.verdict for c in claims})
