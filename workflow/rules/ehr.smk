# Study ehr: the missing-value-pattern backdoor on ICU mortality models (Joe et al., JMIR Med
# Inform 2022) and the defenses against it. Library: src/medrobust/ehr/.
#
# cohort -> ehr_prepare -> ehr_triggers -> ehr_train (one job per model x seed) and, beside them,
#        ehr_input_checks -> ehr_collect (metrics.csv, claims.csv) -> ehr_figures


EHR = config["ehr"]
EHR_DIR = f"results/ehr/{EHR['dataset']}"
EHR_LOGS = f"logs/ehr/{EHR['dataset']}"
EHR_FIGURES = ["mask_heatmaps", "asr_vs_rate", "auprc", "detection_roc", "defense_matrix", "training_length"]


wildcard_constraints:
    ehr_model="lr|mlp|lstm|gru",
    ehr_seed=r"\d+",


EHR_RUNS = [f"{EHR_DIR}/runs/{m}_seed{s}.npz" for m in EHR["models"] for s in range(EHR["seeds"])]
EHR_PARAMS = {
    "seed": config["seed"],
    "deterministic": config["deterministic"],
    "bootstrap": config["bootstrap"],
}
# Each rule gets only the keys it reads, so changing e.g. the RNN epochs reruns no VAE.
EHR_TRIGGER_KEYS = ["seeds", "vae", "value_trigger_scale"]
EHR_CHECK_KEYS = EHR_TRIGGER_KEYS + ["attacks", "defenses", "target_label", "input_check_fpr"]


rule ehr_prepare:
    input:
        f"results/data/{EHR['dataset']}/cohort.npz",
    output:
        f"{EHR_DIR}/prepared.npz",
    log:
        f"{EHR_LOGS}/prepared.log",
    benchmark:
        "results/benchmarks/ehr/ehr_prepare.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        split=EHR["split"],
        seed=config["seed"],
    script:
        "../../scripts/ehr_prepare.py"


rule ehr_triggers:
    input:
        f"{EHR_DIR}/prepared.npz",
    output:
        f"{EHR_DIR}/triggers.npz",
    log:
        f"{EHR_LOGS}/triggers.log",
    benchmark:
        "results/benchmarks/ehr/ehr_triggers.tsv"
    conda:
        "../../envs/torch.yaml"
    # every training job waits for the triggers: give the VAE both cores
    threads: 2
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        **EHR_PARAMS,
        ehr={k: EHR[k] for k in EHR_TRIGGER_KEYS},
    script:
        "../../scripts/ehr_triggers.py"


rule ehr_input_checks:
    input:
        prepared=f"{EHR_DIR}/prepared.npz",
        triggers=f"{EHR_DIR}/triggers.npz",
    output:
        metrics=f"{EHR_DIR}/input_checks.npz",
        flags=f"{EHR_DIR}/input_check_flags.npz",
    log:
        f"{EHR_LOGS}/input_checks.log",
    benchmark:
        "results/benchmarks/ehr/ehr_input_checks.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        **EHR_PARAMS,
        ehr={k: EHR[k] for k in EHR_CHECK_KEYS},
    script:
        "../../scripts/ehr_input_checks.py"


rule ehr_train:
    input:
        prepared=f"{EHR_DIR}/prepared.npz",
        triggers=f"{EHR_DIR}/triggers.npz",
    output:
        f"{EHR_DIR}/runs/{{ehr_model}}_seed{{ehr_seed}}.npz",
    log:
        f"{EHR_LOGS}/runs/{{ehr_model}}_seed{{ehr_seed}}.log",
    benchmark:
        "results/benchmarks/ehr/ehr_train_{ehr_model}_seed{ehr_seed}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        **({"gpu": 1} if EHR["gpu"] else {}),
        mem_mb=6000,
        runtime=60,
    params:
        **EHR_PARAMS,
        ehr=EHR,
    script:
        "../../scripts/ehr_train.py"


rule ehr_collect:
    input:
        runs=EHR_RUNS,
        checks=f"{EHR_DIR}/input_checks.npz",
        flags=f"{EHR_DIR}/input_check_flags.npz",
    output:
        metrics="results/ehr/metrics.csv",
        claims="results/ehr/claims.csv",
    log:
        "logs/ehr/collect.log",
    benchmark:
        "results/benchmarks/ehr/ehr_collect.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        ehr=EHR,
        dataset=EHR["dataset"],
        seed=config["seed"],
    script:
        "../../scripts/ehr_collect.py"


rule ehr_figures:
    input:
        metrics="results/ehr/metrics.csv",
        triggers=f"{EHR_DIR}/triggers.npz",
        flags=f"{EHR_DIR}/input_check_flags.npz",
    output:
        **{
            name: report(
                f"results/ehr/figures/{name}.png",
                caption=f"../report/ehr_{name}.rst",
                category="ehr",
            )
            for name in EHR_FIGURES
        },
    log:
        "logs/ehr/figures.log",
    benchmark:
        "results/benchmarks/ehr/ehr_figures.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        headline=EHR["headline_setting"],
    script:
        "../../scripts/ehr_figures.py"


register_study(
    "ehr",
    outputs=["results/ehr/metrics.csv", "results/ehr/claims.csv"],
    figures=[(f"results/ehr/figures/{n}.png", f"workflow/report/ehr_{n}.rst") for n in EHR_FIGURES],
    matrix_metric="asr",
    datasets=[EHR["dataset"]],
)
