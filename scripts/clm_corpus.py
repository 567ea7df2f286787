"""The clm study's labelled texts and split (results/clm/<dataset>/corpus.npz); never logs any text."""
from medrobust.core.runlog import to_rule_log

log = to_rule_log(snakemake.log[0])

from medrobust.clm.corpus import SPLITS, build_corpus, write_corpus  # noqa: E402

cfg = snakemake.params.clm
corpus = build_corpus(cfg, snakemake.params.seed, snakemake.input[0] if len(snakemake.input) else None,
                      snakemake.params.mimic3_path)
write_corpus(snakemake.output[0], corpus)
for code, name in enumerate(SPLITS):
    part = corpus.split == code
    log.info("%s: %d texts, %d deaths", name, int(part.sum()), int(corpus.label[part].sum()))
log.info("text source %s from %s", corpus.source, corpus.dataset)
