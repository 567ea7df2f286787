"""The ecg study's split: the seeded 90/10 split, the cropped test matrix and the attack subset."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

from medrobust.core.io import write_npz  # noqa: E402
from medrobust.data.challenge2017 import read_ecgset  # noqa: E402
from medrobust.ecg.split import run_prepare  # noqa: E402

write_npz(snakemake.output[0], **run_prepare(read_ecgset(snakemake.input[0]), snakemake.params.ecg,
                                             snakemake.params.seed))
