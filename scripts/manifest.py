"""Write results/manifest.json: checksums and provenance of every input, software versions, config."""
from medrobust.core.io import write_json
from medrobust.core.runlog import to_rule_log
from medrobust.data import manifest
from medrobust.data.sources import from_config

log = to_rule_log(snakemake.log[0])
config = dict(snakemake.config)
record = manifest.build(list(snakemake.input), from_config(config["data"]), config,
                        weights=snakemake.params.weights)
write_json(snakemake.output[0], record)
log.info("manifest: %d inputs verified, %d weight files hashed, %d packages listed",
         len(record["inputs"]), len(record["weights"]), len(record["environment"]))
