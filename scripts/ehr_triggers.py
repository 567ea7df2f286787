"""Fit the attacker's mask VAE and draw every trigger per seed (results/ehr/<dataset>/triggers.npz)."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

import torch  # noqa: E402

from medrobust.core.io import read_npz, write_npz  # noqa: E402
from medrobust.core.seeding import seed_everything  # noqa: E402
from medrobust.ehr.preprocess import Prepared  # noqa: E402
from medrobust.ehr.triggers import make_triggers  # noqa: E402

torch.set_num_threads(snakemake.threads)
seed_everything(snakemake.params.seed, snakemake.params.deterministic)
cfg = snakemake.params.ehr
triggers = make_triggers(Prepared.from_arrays(read_npz(snakemake.input[0])), snakemake.params.seed, cfg["seeds"],
                         cfg["vae"], cfg["value_trigger_scale"], log)
write_npz(snakemake.output[0], **triggers)
