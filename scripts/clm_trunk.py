"""The frozen blocks' states of every clm text, computed once for every job (medrobust.clm.trunk)."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

import torch  # noqa: E402

from medrobust.clm.experiment import write_shared_trunk  # noqa: E402
from medrobust.core.seeding import torch_device  # noqa: E402

torch.set_num_threads(snakemake.threads)
cache = write_shared_trunk(snakemake.input.corpus, snakemake.params.clm, snakemake.params.seed, torch_device(),
                           snakemake.output[0], tuple(snakemake.params.open_datasets))
if cache is None:
    log.info("no trunk states stored (nothing frozen, a random test model, or credentialed text)")
else:
    log.info("trunk states below block %d of %d texts", cache.split, len(cache))
