"""Split, normalise and encode a stay cohort for the ehr study (results/ehr/<dataset>/prepared.npz)."""
from medrobust.core.runlog import to_rule_log
from medrobust.core.io import write_npz
from medrobust.data.cohort import read_cohort
from medrobust.ehr.preprocess import prepare

log = to_rule_log(snakemake.log[0])
split = snakemake.params.split
prepared = prepare(read_cohort(snakemake.input[0]), (split["train"], split["val"]), snakemake.params.seed)
write_npz(snakemake.output[0], **prepared.to_arrays())
log.info("%s: %d stays x %d h x %d variables, %d static columns; train/val/test %s, deaths %s",
         prepared.dataset, *prepared.stays.values.shape, prepared.stays.static.shape[1],
         [int((prepared.split == k).sum()) for k in range(3)],
         [int(prepared.label[prepared.split == k].sum()) for k in range(3)])
