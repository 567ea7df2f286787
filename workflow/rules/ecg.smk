# Study ecg: smoothed adversarial ECGs (Han et al., Nat Med 2020;26:360-363) on PhysioNet/CinC 2017,
# and the filters, input checks, adversarial training and randomized smoothing against them.
# Library: src/medrobust/ecg/.
#
# ecg.npz -> ecg_prepare -> ecg_train -> ecg_attack -> ecg_defense (preprocessing, detectors)
#                                     -> ecg_defense (adversarial_training, randomized_smoothing)
#         -> ecg_collect (metrics.csv, claims.csv) -> ecg_figures
from medrobust.data.challenge2017 import FS as ECG_FS

ECG = config["ecg"]
ECG_DIR = "results/ecg"
ECG_DATA = "results/data/challenge2017/ecg.npz"
ECG_DEFENSES = [
    d
    for d in ("preprocessing", "detectors", "adversarial_training", "randomized_smoothing")
    if ECG["defenses"][d]["enabled"]
]
ECG_FIGURES = [
    "iconic",
    "asr_vs_eps",
    "smoothness",
    "detection_roc",
    "defense_matrix",
    "certified_accuracy",
    "confusion",
]
ECG_RESOURCES = {"gpu": 1} if ECG["gpu"] else {}
if ECG["enabled"] and float(ECG["headline_setting"]["eps"]) not in [float(e) for e in ECG["attacks"]["eps"]]:
    raise ValueError(
        f"config key 'ecg.headline_setting.eps' ({ECG['headline_setting']['eps']}) must be one of "
        f"'ecg.attacks.eps' {ECG['attacks']['eps']}"
    )
ECG_PARAMS = {"ecg": ECG, "seed": config["seed"], "deterministic": config["deterministic"]}
ECG_MODEL_INPUTS = {"ecg": ECG_DATA, "prepared": f"{ECG_DIR}/prepared.npz", "model": f"{ECG_DIR}/models/victim.pt"}


wildcard_constraints:
    ecg_defense="preprocessing|detectors|adversarial_training|randomized_smoothing",


rule ecg_prepare:
    input:
        ECG_DATA,
    output:
        f"{ECG_DIR}/prepared.npz",
    log:
        "logs/ecg/prepared.log",
    benchmark:
        "results/benchmarks/ecg/ecg_prepare.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        **ECG_PARAMS,
    script:
        "../../scripts/ecg_prepare.py"


rule ecg_train:
    input:
        ecg=ECG_DATA,
        prepared=f"{ECG_DIR}/prepared.npz",
    output:
        model=f"{ECG_DIR}/models/victim.pt",
        evaluation=f"{ECG_DIR}/models/victim_eval.npz",
    log:
        "logs/ecg/models/victim.log",
    benchmark:
        "results/benchmarks/ecg/ecg_train.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        **ECG_RESOURCES,
        mem_mb=4000,
        runtime=60,
    params:
        **ECG_PARAMS,
    script:
        "../../scripts/ecg_train.py"


rule ecg_attack:
    input:
        prepared=f"{ECG_DIR}/prepared.npz",
        model=f"{ECG_DIR}/models/victim.pt",
    output:
        f"{ECG_DIR}/attacks.npz",
    log:
        "logs/ecg/attacks.log",
    benchmark:
        "results/benchmarks/ecg/ecg_attack.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        **ECG_RESOURCES,
        mem_mb=4000,
        runtime=60,
    params:
        **ECG_PARAMS,
    script:
        "../../scripts/ecg_attack.py"


rule ecg_defense:
    input:
        # Filters and detectors face the stored adversarial ECGs; the retraining defenses do not.
        unpack(
            lambda wc: ECG_MODEL_INPUTS
            | ({"attacks": f"{ECG_DIR}/attacks.npz"} if wc.ecg_defense in ("preprocessing", "detectors") else {})
        ),
    output:
        f"{ECG_DIR}/defenses/{{ecg_defense}}.npz",
    log:
        "logs/ecg/defenses/{ecg_defense}.log",
    benchmark:
        "results/benchmarks/ecg/ecg_defense_{ecg_defense}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        **ECG_RESOURCES,
        mem_mb=4000,
        runtime=120,
    params:
        **ECG_PARAMS,
    script:
        "../../scripts/ecg_defense.py"


rule ecg_collect:
    input:
        prepared=f"{ECG_DIR}/prepared.npz",
        evaluation=f"{ECG_DIR}/models/victim_eval.npz",
        attacks=f"{ECG_DIR}/attacks.npz",
        defenses=[f"{ECG_DIR}/defenses/{d}.npz" for d in ECG_DEFENSES],
    output:
        metrics=f"{ECG_DIR}/metrics.csv",
        claims=f"{ECG_DIR}/claims.csv",
    log:
        "logs/ecg/collect.log",
    benchmark:
        "results/benchmarks/ecg/ecg_collect.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        ecg=ECG,
        defenses=ECG_DEFENSES,
        fs=ECG_FS,
        seed=config["seed"],
        bootstrap=config["bootstrap"],
        labels=config["data"]["challenge2017"]["labels"],
    script:
        "../../scripts/ecg_collect.py"


rule ecg_figures:
    input:
        metrics=f"{ECG_DIR}/metrics.csv",
        prepared=f"{ECG_DIR}/prepared.npz",
        attacks=f"{ECG_DIR}/attacks.npz",
        defenses=[f"{ECG_DIR}/defenses/{d}.npz" for d in ECG_DEFENSES],
    output:
        **{
            name: report(
                f"{ECG_DIR}/figures/{name}.png",
                caption=f"../report/ecg_{name}.rst",
                category="ecg",
            )
            for name in ECG_FIGURES
        },
    log:
        "logs/ecg/figures.log",
    benchmark:
        "results/benchmarks/ecg/ecg_figures.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        defenses=ECG_DEFENSES,
        headline_eps=ECG["headline_setting"]["eps"],
        fs=ECG_FS,
    script:
        "../../scripts/ecg_figures.py"


register_study(
    "ecg",
    outputs=[f"{ECG_DIR}/metrics.csv", f"{ECG_DIR}/claims.csv"],
    figures=[(f"{ECG_DIR}/figures/{n}.png", f"workflow/report/ecg_{n}.rst") for n in ECG_FIGURES],
    matrix_metric="asr",
    datasets=["challenge2017"],
)
