"""The data owner's hash manifest of a clean release, made before anyone can alter it
(results/enhancement/<dataset>/<task>/provenance.json)."""
from medrobust.core.runlog import to_rule_log
from medrobust.core.io import read_npz, write_json
from medrobust.enhancement.provenance import Provenance

log = to_rule_log(snakemake.log[0])
release = read_npz(snakemake.input[0])
manifest = Provenance().fit(release["x"], release["stay_id"])
write_json(snakemake.output[0], manifest.to_json())
log.info("%d rows hashed in %.4f s; table sha256 %s", len(manifest.rows), manifest.fit_seconds, manifest.table)
