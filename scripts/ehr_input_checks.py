"""Score clean and triggered test stays with every input check (results/ehr/<dataset>/input_checks*.npz)."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

import torch  # noqa: E402

from medrobust.core.io import read_npz, write_npz  # noqa: E402
from medrobust.core.seeding import seed_everything  # noqa: E402
from medrobust.ehr.input_checks import run_input_checks  # noqa: E402
from medrobust.ehr.preprocess import Prepared  # noqa: E402

torch.set_num_threads(snakemake.threads)
seed_everything(snakemake.params.seed, snakemake.params.deterministic)
cfg = snakemake.params.ehr
metrics, flags = run_input_checks(Prepared.from_arrays(read_npz(snakemake.input.prepared)),
                                  read_npz(snakemake.input.triggers), cfg, snakemake.params.seed, cfg["seeds"],
                                  snakemake.params.bootstrap)
write_npz(snakemake.output.metrics, **metrics)
write_npz(snakemake.output.flags, **flags)
