"""Build the 48 h stay tensor from a MIMIC-III or MIMIC-IV demo (results/data/<dataset>/cohort.npz)."""
from medrobust.core.runlog import to_rule_log
from medrobust.data import mimic_demo
from medrobust.data.cohort import write_cohort

log = to_rule_log(snakemake.log[0])
prefix = snakemake.params.prefix
# Table name -> path, e.g. 'ADMISSIONS' or 'hosp/admissions'.
files = {p.removeprefix(prefix).removesuffix(".gz").removesuffix(".csv"): p for p in snakemake.input}
dataset = snakemake.wildcards.dataset
parse = mimic_demo.parse_mimic3 if dataset.startswith("mimic3") else mimic_demo.parse_mimic4
# Credentialed MIMIC keeps no real identifier: stay ids become a sequential index.
is_open = dataset.endswith("_demo")
cohort = parse(files, hours=snakemake.params.hours, open_data=is_open, dataset=dataset,
               group="demo" if is_open else "full")
write_cohort(snakemake.output[0], cohort)
log.info("parsed %d stays x %d hours x %d variables from tables %s; deaths %d",
         *cohort.values.shape, sorted(files), int(cohort.label.sum()))
