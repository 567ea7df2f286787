"""One attack on one task's release at every target r (results/enhancement/<dataset>/<task>/attacks/<attack>.npz)."""
from medrobust.core.runlog import to_rule_log
from medrobust.core.io import read_npz, write_npz
from medrobust.enhancement.sweep import run_sweep

log = to_rule_log(snakemake.log[0])
release = read_npz(snakemake.input[0])
sweep = run_sweep(snakemake.wildcards.enh_attack, release["x"], release["y"], snakemake.params.targets,
                  snakemake.params.settings, snakemake.params.seed, snakemake.wildcards.enh_task)
write_npz(snakemake.output[0], **sweep)
for target, r, seconds in zip(sweep["targets"], sweep["r"], sweep["seconds"]):
    log.info("target r %.3f: per-subject r min %.6f mean %.6f, %.2f s", target, r.min(), r.mean(), seconds)
