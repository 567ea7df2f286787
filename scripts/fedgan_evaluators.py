"""Train the fedgan study's evaluators: real-data classifiers (features, downstream baseline) and the trigger detector."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

import torch  # noqa: E402

from medrobust.core.io import write_npz  # noqa: E402
from medrobust.core.seeding import derive_seed, seed_everything, torch_device  # noqa: E402
from medrobust.data.medmnist_npz import load  # noqa: E402
from medrobust.fedgan.experiment import train_evaluators  # noqa: E402
from medrobust.fedgan.images import image_splits  # noqa: E402

params = snakemake.params
torch.set_num_threads(snakemake.threads)
seed_everything(derive_seed(params.seed, "fedgan", "evaluators"), params.deterministic)
data = image_splits(load(snakemake.input[0], params.flag, params.size), params.flag)
log.info("%s at %d px: %d/%d/%d images, %d classes, %d channels", params.flag, params.size, len(data.train_y),
         len(data.val_y), len(data.test_y), data.n_classes, data.channels)
write_npz(snakemake.output[0], **train_evaluators(data, params.fedgan, params.seed, torch_device()))
