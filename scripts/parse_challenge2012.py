"""Parse the PhysioNet 2012 sets into one 48 h stay tensor (results/data/challenge2012/cohort.npz)."""
from medrobust.core.runlog import to_rule_log
from medrobust.data import challenge2012
from medrobust.data.cohort import write_cohort

log = to_rule_log(snakemake.log[0])
files = {p.split("/")[-1]: p for p in snakemake.input}
sets = snakemake.params.sets
report = challenge2012.ParseReport()
cohort = challenge2012.parse({s: files[f"set-{s}.tar.gz"] for s in sets},
                             {s: files[f"Outcomes-{s}.txt"] for s in sets},
                             hours=snakemake.params.hours, report=report)
write_cohort(snakemake.output[0], cohort)
log.info("parsed %d stays x %d hours x %d variables; deaths %d; unknown parameters %s",
         *cohort.values.shape, int(cohort.label.sum()), dict(report.unknown_parameters))
