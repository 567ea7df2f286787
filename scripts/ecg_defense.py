"""One defense of the ecg study (preprocessing, detectors, adversarial training or randomized smoothing)."""
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
from medrobust.ecg.experiment import run_defense  # noqa: E402
from medrobust.ecg.split import Prepared  # noqa: E402
from medrobust.ecg.train import load_model  # noqa: E402

defense = snakemake.wildcards.ecg_defense
torch.set_num_threads(snakemake.threads)
seed_everything(derive_seed(snakemake.params.seed, "ecg", "defense", defense), snakemake.params.deterministic)
device = torch_device()
log.info("ecg defense %s on %s", defense, device)
attacks = read_npz(snakemake.input.attacks) if "attacks" in snakemake.input.keys() else None
write_npz(snakemake.output[0], **run_defense(defense, read_ecgset(snakemake.input.ecg),
                                             Prepared.from_arrays(read_npz(snakemake.input.prepared)),
                                             load_model(snakemake.input.model, device), attacks,
                                             snakemake.params.ecg, snakemake.params.seed, device))
