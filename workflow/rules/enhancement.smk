# Study enhancement: gradient-based enhancement attacks that falsely inflate accuracy (Rosenblatt,
# Dadashkarimi & Scheinost, arXiv 2301.01885) and the checks that catch them. Library:
# src/medrobust/enhancement/. Numpy and scikit-learn only (no torch): every job is small.
#
# Everything is repeated on `draws` independent samples of stays (draw1, draw2, ...), so that every
# claim's interval spans data draws, not one sample.
#
# cohort -> enhancement_prepare (per draw x task: release, external, reference samples, and the
#           owner's hash manifest of the clean release)
#        -> enhancement_attack (per draw x task: every attack at every target r, with its edit magnitude)
#        -> enhancement_evaluate (victims' 10-fold CV) and enhancement_checks (provenance, QC,
#           label screening, external validation), per draw x task
#        -> enhancement_collect (pooled metrics.csv, claims.csv, edit_magnitude.csv) -> enhancement_figures

from pathlib import Path

from medrobust.core.seeding import derive_seed

ENH = config["enhancement"]
ENH_DIR = f"results/enhancement/{ENH['dataset']}"
ENH_LOGS = f"logs/enhancement/{ENH['dataset']}"
ENH_FIGURES = [
    "accuracy_vs_r",
    "method_gap",
    "r_histograms",
    "detection_rates",
    "external_validation",
    "edit_magnitude",
]
ENH_DRAWS = list(range(1, ENH["draws"] + 1))
# Every (draw, task) of the run, draw outer: the order of expand(..., draw=ENH_DRAWS, task=ENH["tasks"]).
ENH_KEYS = [[d, t] for d in ENH_DRAWS for t in ENH["tasks"]]
ENH_VERSION = f"{ENH_DIR}/draw{{enh_draw}}/{{enh_task}}"
ENH_ATTACKS = f"{ENH_DIR}/draw{{draw}}/{{task}}/attacks/{{attack}}.npz"


wildcard_constraints:
    enh_draw="[0-9]+",
    enh_task="chance|mortality",


# Target helpers (in workflow/lib, since Snakemake's linter wants rules and functions in separate files)
include: "../lib/enhancement.smk"


rule enhancement_prepare:
    input:
        f"results/data/{ENH['dataset']}/cohort.npz",
    output:
        release=f"{ENH_VERSION}/release.npz",
        manifest=f"{ENH_VERSION}/provenance.json",
    log:
        f"{ENH_LOGS}/draw{{enh_draw}}/{{enh_task}}/release.log",
    benchmark:
        "results/benchmarks/enhancement/enhancement_prepare_draw{enh_draw}_{enh_task}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        n_subjects=ENH["n_subjects"],
        n_external=ENH["n_external"],
        n_reference=ENH["n_reference"],
        train_set=ENH["train_set"],
        external_set=ENH["external_set"],
        reference_set=ENH["reference_set"],
        clip_z=ENH["clip_z"],
        seed=config["seed"],
    script:
        "../../scripts/enhancement_prepare.py"


# Every attack of one draw and task in one job: each is seconds of numpy, and one job each would spend
# as long again starting Python.
rule enhancement_attack:
    input:
        f"{ENH_VERSION}/release.npz",
    output:
        **{attack: f"{ENH_VERSION}/attacks/{attack}.npz" for attack in ENH["attacks"]},
    log:
        f"{ENH_LOGS}/draw{{enh_draw}}/{{enh_task}}/attacks.log",
    benchmark:
        "results/benchmarks/enhancement/enhancement_attack_draw{enh_draw}_{enh_task}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        targets=lambda wc: {attack: enh_attack_targets(attack, wc.enh_draw) for attack in ENH["attacks"]},
        settings={attack: enh_attack_settings(attack) for attack in ENH["attacks"]},
        seed=lambda wc: derive_seed(config["seed"], "enhancement", "draw", wc.enh_draw),
    script:
        "../../scripts/enhancement_attack.py"


rule enhancement_evaluate:
    input:
        release=f"{ENH_VERSION}/release.npz",
        attacks=enh_draw_attacks,
    output:
        f"{ENH_VERSION}/cv.csv",
    log:
        f"{ENH_LOGS}/draw{{enh_draw}}/{{enh_task}}/cv.log",
    benchmark:
        "results/benchmarks/enhancement/enhancement_evaluate_draw{enh_draw}_{enh_task}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        victims=ENH["victims"],
        seed=lambda wc: derive_seed(config["seed"], "enhancement", "folds", wc.enh_task, "draw", wc.enh_draw),
    script:
        "../../scripts/enhancement_evaluate.py"


rule enhancement_checks:
    input:
        release=f"{ENH_VERSION}/release.npz",
        manifest=f"{ENH_VERSION}/provenance.json",
        attacks=enh_draw_attacks,
    output:
        checks=f"{ENH_VERSION}/checks.csv",
        external=f"{ENH_VERSION}/external.csv",
    log:
        f"{ENH_LOGS}/draw{{enh_draw}}/{{enh_task}}/checks.log",
    benchmark:
        "results/benchmarks/enhancement/enhancement_checks_draw{enh_draw}_{enh_task}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        victims=ENH["victims"],
        checks=ENH["checks"],
        seed=lambda wc: derive_seed(config["seed"], "enhancement", "checks", wc.enh_task, "draw", wc.enh_draw),
    script:
        "../../scripts/enhancement_checks.py"


rule enhancement_collect:
    input:
        manifests=enh_per_draw("provenance.json"),
        cv=enh_per_draw("cv.csv"),
        checks=enh_per_draw("checks.csv"),
        external=enh_per_draw("external.csv"),
        attacks=expand(ENH_ATTACKS, draw=ENH_DRAWS, task=ENH["tasks"], attack=ENH["attacks"]),
    output:
        metrics="results/enhancement/metrics.csv",
        claims="results/enhancement/claims.csv",
        edits="results/enhancement/edit_magnitude.csv",
    log:
        "logs/enhancement/collect.log",
    benchmark:
        "results/benchmarks/enhancement/enhancement_collect.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        draw_tasks=ENH_KEYS,
        dataset=ENH["dataset"],
        headline_target=ENH["headline_target"],
        bootstrap=config["bootstrap"],
        seed=config["seed"],
        folds=ENH["victims"]["folds"],
        attack_steps=ENH["general_enhancement"]["steps"],
    script:
        "../../scripts/enhancement_collect.py"


rule enhancement_figures:
    input:
        metrics="results/enhancement/metrics.csv",
        attacks=expand(ENH_ATTACKS, draw=ENH_DRAWS, task=ENH["tasks"], attack=ENH["attacks"]),
    output:
        **{
            name: report(
                f"results/enhancement/figures/{name}.png",
                caption=f"../report/enhancement_{name}.rst",
                category="enhancement",
            )
            for name in ENH_FIGURES
        },
    log:
        "logs/enhancement/figures.log",
    benchmark:
        "results/benchmarks/enhancement/enhancement_figures.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        headline_target=ENH["headline_target"],
    script:
        "../../scripts/enhancement_figures.py"


# Captions as absolute paths: the report reads them from the working directory, which is not the
# repository when snakemake runs with --directory (the smoke test does).
register_study(
    "enhancement",
    outputs=[
        "results/enhancement/metrics.csv",
        "results/enhancement/claims.csv",
        "results/enhancement/edit_magnitude.csv",
    ],
    figures=[
        (f"results/enhancement/figures/{n}.png", str(Path(workflow.basedir) / f"workflow/report/enhancement_{n}.rst"))
        for n in ENH_FIGURES
    ],
    matrix_metric="detection_rate",
    datasets=[ENH["dataset"]],
)
