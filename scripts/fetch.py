"""Fetch one publisher file into resources/, verified (SHA256SUMS.txt or MedMNIST MD5), atomically."""
from medrobust.core.runlog import to_rule_log
from medrobust.data.fetch import fetch_verified
from medrobust.data.sources import from_config

log = to_rule_log(snakemake.log[0])
dest = snakemake.output[0]
relpath = dest.removeprefix("resources/")
source = fetch_verified(relpath, dest, from_config(snakemake.config["data"]))
log.info("fetched %s from %s (verified)", relpath, source)
