"""Train the ecg study's victim (the Hannun-style residual CNN) and score it on the test split."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

import os  # noqa: E402

# Idle OpenMP threads sleep instead of spinning: on a shared CPU, spinning threads starve the
# working ones (measured here: 2 spinning threads ran 4x slower than 1 thread).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from medrobust.core.io import read_npz, write_npz  # noqa: E402
from medrobust.core.seeding import derive_seed, seed_everything, torch_device  # noqa: E402
from medrobust.data.challenge2017 import read_ecgset  # noqa: E402
from medrobust.ecg.experiment import run_train  # noqa: E402
from medrobust.ecg.split import Prepared  # noqa: E402
from medrobust.ecg.train import save_model  # noqa: E402

torch.set_num_threads(snakemake.threads)
seed_everything(derive_seed(snakemake.params.seed, "ecg", "train"), snakemake.params.deterministic)
device = torch_device()
log.info("training the ecg victim on %s with %d threads", device, snakemake.threads)
model, evaluation = run_train(read_ecgset(snakemake.input.ecg), Prepared.from_arrays(read_npz(snakemake.input.prepared)),
                              snakemake.params.ecg, snakemake.params.seed, device)
save_model(snakemake.output.model, model)
write_npz(snakemake.output.evaluation, **evaluation)
