"""Draw one task's release, external and reference samples for one data draw, their standardised stay
features, and the data owner's hash manifest of the clean release
(results/enhancement/<dataset>/draw<d>/<task>/release.npz and provenance.json)."""
from medrobust.core.runlog import to_rule_log
from medrobust.core.io import write_json, write_npz
from medrobust.core.seeding import make_rng
from medrobust.data.cohort import read_cohort
from medrobust.enhancement.provenance import Provenance
from medrobust.enhancement.tasks import prepare

log = to_rule_log(snakemake.log[0])
p, wc = snakemake.params, snakemake.wildcards
release = prepare(read_cohort(snakemake.input[0]), wc.enh_task, p.n_subjects, p.n_external, p.n_reference,
                  p.train_set, p.external_set, p.reference_set, p.clip_z,
                  make_rng(p.seed, "enhancement", "task", wc.enh_task, "draw", wc.enh_draw))
write_npz(snakemake.output.release, **release.arrays())
manifest = Provenance().fit(release.x, release.stay_id)
write_json(snakemake.output.manifest, manifest.to_json())
log.info("draw %s, %s: release %s (%d positive), external %s, reference %s; %d rows hashed in %.4f s",
         wc.enh_draw, wc.enh_task, release.x.shape, int(release.y.sum()), release.x_external.shape,
         release.x_reference.shape, len(manifest.rows), manifest.fit_seconds)
