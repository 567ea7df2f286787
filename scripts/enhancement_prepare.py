"""Draw one task's release, external and reference samples and their standardised stay features
(results/enhancement/<dataset>/<task>/release.npz)."""
from medrobust.core.runlog import to_rule_log
from medrobust.core.io import write_npz
from medrobust.core.seeding import make_rng
from medrobust.data.cohort import read_cohort
from medrobust.enhancement.tasks import prepare

log = to_rule_log(snakemake.log[0])
p = snakemake.params
task = snakemake.wildcards.enh_task
release = prepare(read_cohort(snakemake.input[0]), task, p.n_subjects, p.n_external, p.n_reference, p.train_set,
                  p.external_set, p.reference_set, p.clip_z, make_rng(p.seed, "enhancement", "task", task))
write_npz(snakemake.output[0], **release.arrays())
log.info("%s: release %s (%d positive), external %s, reference %s", task, release.x.shape, int(release.y.sum()),
         release.x_external.shape, release.x_reference.shape)
