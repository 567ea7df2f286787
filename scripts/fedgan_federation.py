"""One federation variant of the fedgan study: (attack, defense, seed index) -> losses, checkpoints, samples."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

import torch  # noqa: E402

from medrobust.core.io import write_npz  # noqa: E402
from medrobust.core.seeding import derive_seed, seed_everything, torch_device  # noqa: E402
from medrobust.data.medmnist_npz import load  # noqa: E402
from medrobust.fedgan.experiment import run_variant  # noqa: E402
from medrobust.fedgan.images import image_splits  # noqa: E402

params, wc = snakemake.params, snakemake.wildcards
torch.set_num_threads(snakemake.threads)
seed_index = int(wc.fedgan_seed)
seed_everything(derive_seed(params.seed, "fedgan", wc.fedgan_attack, wc.fedgan_defense, seed_index),
                params.deterministic)
device = torch_device()
log.info("fedgan %s / %s seed %d on %s", wc.fedgan_attack, wc.fedgan_defense, seed_index, device)
data = image_splits(load(snakemake.input.data[0], params.flag, params.size), params.flag)
result = run_variant(data, params.fedgan, wc.fedgan_attack, wc.fedgan_defense, seed_index, params.seed, device)
write_npz(snakemake.output[0], **result)
