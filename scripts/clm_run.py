"""One clm job: fine-tune a clean, BadNets- or BadCLM-poisoned victim, evaluate it and run the defenses."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

import os  # noqa: E402

# one core per job: the tokenizer's thread pool would take the other job's core
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

from medrobust.clm.experiment import run_from_files  # noqa: E402
from medrobust.core.io import write_npz  # noqa: E402
from medrobust.core.seeding import derive_seed, seed_everything, torch_device  # noqa: E402

torch.set_num_threads(snakemake.threads)
attack, rate, seed_index = snakemake.wildcards.clm_attack, float(snakemake.wildcards.clm_rate), int(snakemake.wildcards.clm_seed)
seed_everything(derive_seed(snakemake.params.seed, "clm", "init", rate, seed_index), snakemake.params.deterministic)
result = run_from_files(snakemake.input.corpus, snakemake.params.clm, attack, rate, seed_index, snakemake.params.seed,
                        torch_device(), snakemake.params.mimic3_path, tuple(snakemake.params.open_datasets),
                        snakemake.input.trunk)
write_npz(snakemake.output[0], **result)
log.info("wrote %d arrays", len(result))
