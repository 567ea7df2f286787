"""Parse PhysioNet/CinC 2017 (training2017.zip + labels) into results/data/challenge2017/ecg.npz."""
from medrobust.core.runlog import to_rule_log
from medrobust.data import challenge2017

log = to_rule_log(snakemake.log[0])
files = {p.split("/")[-1]: p for p in snakemake.input}
# 'original' labels are the REFERENCE.csv inside the zip; 'v3' the updated REFERENCE-v3.csv.
reference = files["REFERENCE-v3.csv"] if snakemake.params.labels == "v3" else None
ecg = challenge2017.parse(files["training2017.zip"], reference)
challenge2017.write_ecgset(snakemake.output[0], ecg)
log.info("parsed %d ECGs (%s labels)", len(ecg.label), snakemake.params.labels)
