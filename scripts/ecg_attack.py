"""PGD, SAP, ART's PGD and the new-examples techniques against the ecg victim."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

import os  # noqa: E402

# Idle OpenMP threads sleep instead of spinning: on a shared CPU, spinning threads starve the
# working ones (measured here: 2 spinning threads ran 4x slower than 1 thread).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from medrobust.core.io import read_npz, write_npz  # noqa: E402
from medrobust.core.seeding import derive_seed, seed_everything, torch_device  # noqa: E402
from medrobust.ecg.experiment import run_attacks  # noqa: E402
from medrobust.ecg.split import Prepared  # noqa: E402
from medrobust.ecg.train import load_model  # noqa: E402

torch.set_num_threads(snakemake.threads)
seed_everything(derive_seed(snakemake.params.seed, "ecg", "attack"), snakemake.params.deterministic)
device = torch_device()
write_npz(snakemake.output[0], **run_attacks(Prepared.from_arrays(read_npz(snakemake.input.prepared)),
                                             load_model(snakemake.input.model, device), snakemake.params.ecg,
                                             snakemake.params.seed, device))
