"""Every attack on one task's release of one draw at every target r, with its edit magnitude
(results/enhancement/<dataset>/draw<d>/<task>/attacks/<attack>.npz)."""
from medrobust.core.runlog import to_rule_log
from medrobust.core.io import read_npz, write_npz
from medrobust.enhancement.sweep import run_sweep

log = to_rule_log(snakemake.log[0])
p, wc = snakemake.params, snakemake.wildcards
release = read_npz(snakemake.input[0])
for attack, path in snakemake.output.items():
    sweep = run_sweep(attack, release["x"], release["y"], p.targets[attack], p.settings[attack], p.seed, wc.enh_task,
                      int(wc.enh_draw), release["names"])
    write_npz(path, **sweep)
    for t, target in enumerate(sweep["targets"]):
        log.info("%s at r %.3f: per-subject r min %.6f; %.1f%% of cells changed, p99 %.2f IQR, %.2f%% outside "
                 "range; %.2f s", attack, target, sweep["r"][t].min(), 100 * sweep["edit_cells_changed"][t],
                 sweep["edit_p99"][t], 100 * sweep["edit_outside_range"][t], sweep["seconds"][t])
