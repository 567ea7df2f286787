"""One (model, seed) job of the ehr study: clean and poisoned victims, defenses, metrics with replicates."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

import torch  # noqa: E402

from medrobust.core.io import read_npz, write_npz  # noqa: E402
from medrobust.core.seeding import derive_seed, seed_everything, torch_device  # noqa: E402
from medrobust.ehr.experiment import run_job  # noqa: E402
from medrobust.ehr.preprocess import Prepared  # noqa: E402

torch.set_num_threads(snakemake.threads)
model, seed_index = snakemake.wildcards.ehr_model, int(snakemake.wildcards.ehr_seed)
seed_everything(derive_seed(snakemake.params.seed, "ehr", model, seed_index), snakemake.params.deterministic)
device = torch_device()
log.info("ehr job %s seed %d on %s", model, seed_index, device)
result = run_job(Prepared.from_arrays(read_npz(snakemake.input.prepared)), read_npz(snakemake.input.triggers),
                 snakemake.params.ehr, model, seed_index, snakemake.params.seed, snakemake.params.bootstrap, device)
write_npz(snakemake.output[0], **result)
