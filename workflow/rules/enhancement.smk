# Study enhancement: gradient-based enhancement attacks that falsely inflate accuracy (Rosenblatt,
# Dadashkarimi & Scheinost, arXiv 2301.01885) and the checks that catch them. Library:
# src/medrobust/enhancement/. Numpy and scikit-learn only (no torch): every job is small.
#
# cohort -> enhancement_prepare (per task: release, external, reference samples)
#        -> enhancement_manifest (the owner's hash manifest of the clean release)
#        -> enhancement_attack (per task x attack: every target r)
#        -> enhancement_evaluate (victims' 10-fold CV) and enhancement_checks (provenance, QC,
#           label screening, external validation), per task
#        -> enhancement_collect (metrics.csv, claims.csv) -> enhancement_figures

from pathlib import Path

from medrobust.core.seeding import derive_seed


ENH = config["enhancement"]
ENH_DIR = f"results/enhancement/{ENH['dataset']}"
ENH_LOGS = f"logs/enhancement/{ENH['dataset']}"
ENH_FIGURES = ["accuracy_vs_r", "method_gap", "r_histograms", "detection_rates", "external_validation"]


wildcard_constraints:
    enh_task="chance|mortality",
    enh_attack="general_enhancement|pattern_injection|method_specific",
ENH_ATTACKS = f"{ENH_DIR}/{{task}}/attacks/{{attack}}.npz"


rule enhancement_prepare:
    input:
        f"results/data/{ENH['dataset']}/cohort.npz",
    output:
        f"{ENH_DIR}/{{enh_task}}/release.npz",
    log:
        f"{ENH_LOGS}/{{enh_task}}/release.log",
    benchmark:
        "results/benchmarks/enhancement/enhancement_prepare_{enh_task}.tsv"
    params:
        n_subjects=ENH["n_subjects"],
        n_external=ENH["n_external"],
        n_reference=ENH["n_reference"],
        train_set=ENH["train_set"],
        external_set=ENH["external_set"],
        reference_set=ENH["reference_set"],
        clip_z=ENH["clip_z"],
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
    conda:
        "../../envs/data.yaml"
    script:
        "../../scripts/enhancement_prepare.py"


rule enhancement_manifest:
    input:
        f"{ENH_DIR}/{{enh_task}}/release.npz",
    output:
        f"{ENH_DIR}/{{enh_task}}/provenance.json",
    log:
        f"{ENH_LOGS}/{{enh_task}}/provenance.log",
    benchmark:
        "results/benchmarks/enhancement/enhancement_manifest_{enh_task}.tsv"
    params:
        algorithm="sha256",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/data.yaml"
    script:
        "../../scripts/enhancement_manifest.py"


rule enhancement_attack:
    input:
        f"{ENH_DIR}/{{enh_task}}/release.npz",
    output:
        f"{ENH_DIR}/{{enh_task}}/attacks/{{enh_attack}}.npz",
    log:
        f"{ENH_LOGS}/{{enh_task}}/attacks/{{enh_attack}}.log",
    benchmark:
        "results/benchmarks/enhancement/enhancement_attack_{enh_task}_{enh_attack}.tsv"
    params:
        targets=ENH["targets"],
        settings=lambda wc: {**ENH[wc.enh_attack], "max_shared": ENH["max_shared"]},
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../../envs/data.yaml"
    script:
        "../../scripts/enhancement_attack.py"


rule enhancement_evaluate:
    input:
        release=f"{ENH_DIR}/{{enh_task}}/release.npz",
        attacks=lambda wc: expand(ENH_ATTACKS, task=wc.enh_task, attack=ENH["attacks"]),
    output:
        f"{ENH_DIR}/{{enh_task}}/cv.csv",
    log:
        f"{ENH_LOGS}/{{enh_task}}/cv.log",
    benchmark:
        "results/benchmarks/enhancement/enhancement_evaluate_{enh_task}.tsv"
    params:
        victims=ENH["victims"],
        seed=lambda wc: derive_seed(config["seed"], "enhancement", "folds", wc.enh_task),
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    conda:
        "../../envs/data.yaml"
    script:
        "../../scripts/enhancement_evaluate.py"


rule enhancement_checks:
    input:
        release=f"{ENH_DIR}/{{enh_task}}/release.npz",
        manifest=f"{ENH_DIR}/{{enh_task}}/provenance.json",
        attacks=lambda wc: expand(ENH_ATTACKS, task=wc.enh_task, attack=ENH["attacks"]),
    output:
        checks=f"{ENH_DIR}/{{enh_task}}/checks.csv",
        external=f"{ENH_DIR}/{{enh_task}}/external.csv",
    log:
        f"{ENH_LOGS}/{{enh_task}}/checks.log",
    benchmark:
        "results/benchmarks/enhancement/enhancement_checks_{enh_task}.tsv"
    params:
        victims=ENH["victims"],
        checks=ENH["checks"],
        seed=lambda wc: derive_seed(config["seed"], "enhancement", "checks", wc.enh_task),
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    conda:
        "../../envs/data.yaml"
    script:
        "../../scripts/enhancement_checks.py"


rule enhancement_collect:
    input:
        manifests=expand(f"{ENH_DIR}/{{task}}/provenance.json", task=ENH["tasks"]),
        cv=expand(f"{ENH_DIR}/{{task}}/cv.csv", task=ENH["tasks"]),
        checks=expand(f"{ENH_DIR}/{{task}}/checks.csv", task=ENH["tasks"]),
        external=expand(f"{ENH_DIR}/{{task}}/external.csv", task=ENH["tasks"]),
        attacks=expand(ENH_ATTACKS, task=ENH["tasks"], attack=ENH["attacks"]),
    output:
        metrics="results/enhancement/metrics.csv",
        claims="results/enhancement/claims.csv",
    log:
        "logs/enhancement/collect.log",
    benchmark:
        "results/benchmarks/enhancement/enhancement_collect.tsv"
    params:
        tasks=ENH["tasks"],
        dataset=ENH["dataset"],
        headline_target=ENH["headline_target"],
        bootstrap=config["bootstrap"],
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/data.yaml"
    script:
        "../../scripts/enhancement_collect.py"


rule enhancement_figures:
    input:
        metrics="results/enhancement/metrics.csv",
        attacks=expand(ENH_ATTACKS, task=ENH["tasks"], attack=ENH["attacks"]),
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
    params:
        headline_target=ENH["headline_target"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/report.yaml"
    script:
        "../../scripts/enhancement_figures.py"


# Captions as absolute paths: the report reads them from the working directory, which is not the
# repository when snakemake runs with --directory (the smoke test does).
register_study(
    "enhancement",
    outputs=["results/enhancement/metrics.csv", "results/enhancement/claims.csv"],
    figures=[
        (f"results/enhancement/figures/{n}.png", str(Path(workflow.basedir) / f"workflow/report/enhancement_{n}.rst"))
        for n in ENH_FIGURES
    ],
    matrix_metric="detection_rate",
    datasets=[ENH["dataset"]],
)
