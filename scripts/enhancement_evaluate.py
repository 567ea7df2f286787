"""The victims' 10-fold CV on the original and every enhanced version of one task's release
(results/enhancement/<dataset>/<task>/cv.csv: out-of-fold predictions)."""
from medrobust.core.runlog import to_rule_log
from medrobust.core.io import read_npz, write_csv
from medrobust.enhancement.evaluation import VictimSettings, cross_validate_versions

log = to_rule_log(snakemake.log[0])
v = snakemake.params.victims
release = read_npz(snakemake.input.release)
predictions = cross_validate_versions(release["x"], release["y"], [read_npz(p) for p in snakemake.input.attacks],
                                      v["models"], VictimSettings(v["c"], v["hidden"], v["alpha"], v["max_iter"]),
                                      v["folds"], snakemake.params.seed)
write_csv(snakemake.output[0], predictions)
log.info("CV accuracy per version and victim:\n%s",
         (predictions["y"] == predictions["pred"]).groupby([predictions["attack"], predictions["target_r"],
                                                            predictions["model"]]).mean().to_string())
