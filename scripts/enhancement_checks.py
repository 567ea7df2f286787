"""Provenance, distribution QC, label screening and external validation on every version of one task's
release (results/enhancement/<dataset>/<task>/checks.csv and external.csv)."""
import json

from medrobust.core.runlog import to_rule_log
from medrobust.core.io import read_npz, write_csv
from medrobust.enhancement.defenses import CheckSettings, run_checks
from medrobust.enhancement.evaluation import VictimSettings
from medrobust.enhancement.tasks import TaskData

log = to_rule_log(snakemake.log[0])
v = snakemake.params.victims
with open(snakemake.input.manifest, encoding="utf-8") as fh:
    manifest = json.load(fh)
checks, external = run_checks(TaskData.from_arrays(read_npz(snakemake.input.release)),
                              [read_npz(p) for p in snakemake.input.attacks], manifest, v["models"],
                              VictimSettings(v["c"], v["hidden"], v["alpha"], v["max_iter"]),
                              CheckSettings(**snakemake.params.checks), snakemake.params.seed)
write_csv(snakemake.output.checks, checks)
write_csv(snakemake.output.external, external)
log.info("flags per check and attack:\n%s", checks.groupby(["defense", "attack"])["flagged"].mean().to_string())
