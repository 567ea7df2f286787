"""Aggregate data summary of one dataset (results/data/<dataset>/summary.csv): no per-stay rows."""
import pandas as pd

from medrobust.core.io import write_csv
from medrobust.core.runlog import to_rule_log
from medrobust.data import challenge2017, medmnist_npz, summary
from medrobust.data.cohort import read_cohort

log = to_rule_log(snakemake.log[0])
dataset = snakemake.wildcards.dataset
if dataset == "challenge2017":
    frame = summary.summarize_ecgset(challenge2017.read_ecgset(snakemake.input[0]))
elif dataset == "medmnist":
    size = snakemake.params.medmnist["size"]
    frame = pd.concat([summary.summarize_medmnist(medmnist_npz.load(path, flag, size), flag)
                       for path, flag in zip(snakemake.input, snakemake.params.medmnist["flags"])])
else:
    frame = summary.summarize_cohort(read_cohort(snakemake.input[0]))
write_csv(snakemake.output[0], frame)
log.info("%s: %d summary rows", dataset, len(frame))
