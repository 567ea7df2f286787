# Study fedgan: a backdoor trigger on one client of a federated conditional GAN, FedDetect, robust
# aggregation and WGAN-GP (Jin & Li, Medical Image Analysis 2023;90:102965). Library:
# src/medrobust/fedgan/.
#
# MedMNIST npz -> fedgan_evaluators (real-data classifiers, trigger detector)  \
#              -> fedgan_federation (one job per attack x defense x seed)      -> fedgan_collect (scores
#                 the stored samples; metrics.csv, claims.csv) -> fedgan_figures
# The federations need no evaluator, so they start beside the evaluators job.


FEDGAN = config["fedgan"]
FEDGAN_SIZE = config["data"]["medmnist"]["size"]
FEDGAN_DATASET = FEDGAN["flag"] if FEDGAN_SIZE == 28 else f"{FEDGAN['flag']}_{FEDGAN_SIZE}"
FEDGAN_DIR = f"results/fedgan/{FEDGAN_DATASET}"
FEDGAN_LOGS = f"logs/fedgan/{FEDGAN_DATASET}"
FEDGAN_FIGURES = [
    "sample_grids",
    "loss_curves",
    "feddetect_weights",
    "fidelity_trigger",
    "quality_by_round",
    "downstream_auc",
]


wildcard_constraints:
    fedgan_attack="none|patch_trigger",
    fedgan_defense="none|feddetect|feddetect_authors|median|trimmed_mean|krum|wgan_gp",
    fedgan_seed=r"\d+",


FEDGAN_VARIANTS = list(
    dict.fromkeys(
        [("none", "none"), ("patch_trigger", "none")]
        + [("patch_trigger", d) for d in FEDGAN["defenses"]]
        + [("none", d) for d in FEDGAN["clean_defenses"]]
    )
)
FEDGAN_RUNS = [
    f"{FEDGAN_DIR}/runs/{attack}/{defense}/seed{s}.npz"
    for attack, defense in FEDGAN_VARIANTS
    for s in range(FEDGAN["seeds"])
]
FEDGAN_INPUT = f"medmnist:{FEDGAN['flag']}"
FEDGAN_PARAMS = {
    "fedgan": FEDGAN,
    "flag": FEDGAN["flag"],
    "size": FEDGAN_SIZE,
    "seed": config["seed"],
    "deterministic": config["deterministic"],
}
FEDGAN_RESOURCES = {"gpu": 1} if FEDGAN["gpu"] else {}


rule fedgan_evaluators:
    input:
        lambda wc: dataset_resources(FEDGAN_INPUT),
    output:
        f"{FEDGAN_DIR}/evaluators.npz",
    log:
        f"{FEDGAN_LOGS}/evaluators.log",
    benchmark:
        "results/benchmarks/fedgan/fedgan_evaluators.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        **FEDGAN_RESOURCES,
        mem_mb=4000,
        runtime=20,
    params:
        **FEDGAN_PARAMS,
    script:
        "../../scripts/fedgan_evaluators.py"


rule fedgan_federation:
    input:
        data=lambda wc: dataset_resources(FEDGAN_INPUT),
    output:
        f"{FEDGAN_DIR}/runs/{{fedgan_attack}}/{{fedgan_defense}}/seed{{fedgan_seed}}.npz",
    log:
        f"{FEDGAN_LOGS}/runs/{{fedgan_attack}}/{{fedgan_defense}}/seed{{fedgan_seed}}.log",
    benchmark:
        "results/benchmarks/fedgan/fedgan_federation_{fedgan_attack}_{fedgan_defense}_seed{fedgan_seed}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        **FEDGAN_RESOURCES,
        mem_mb=4000,
        runtime=60,
    params:
        **FEDGAN_PARAMS,
    script:
        "../../scripts/fedgan_federation.py"


rule fedgan_collect:
    input:
        runs=FEDGAN_RUNS,
        evaluators=f"{FEDGAN_DIR}/evaluators.npz",
    output:
        metrics="results/fedgan/metrics.csv",
        claims="results/fedgan/claims.csv",
    log:
        "logs/fedgan/collect.log",
    benchmark:
        "results/benchmarks/fedgan/fedgan_collect.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        fedgan=FEDGAN,
        dataset=FEDGAN_DATASET,
        seed=config["seed"],
    script:
        "../../scripts/fedgan_collect.py"


rule fedgan_figures:
    input:
        metrics="results/fedgan/metrics.csv",
        runs=FEDGAN_RUNS,
    output:
        **{
            name: report(
                f"results/fedgan/figures/{name}.png",
                caption=f"../report/fedgan_{name}.rst",
                category="fedgan",
            )
            for name in FEDGAN_FIGURES
        },
    log:
        "logs/fedgan/figures.log",
    benchmark:
        "results/benchmarks/fedgan/fedgan_figures.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        threshold=FEDGAN["feddetect"]["threshold"],
    script:
        "../../scripts/fedgan_figures.py"


register_study(
    "fedgan",
    outputs=["results/fedgan/metrics.csv", "results/fedgan/claims.csv"],
    figures=[(f"results/fedgan/figures/{n}.png", f"workflow/report/fedgan_{n}.rst") for n in FEDGAN_FIGURES],
    matrix_metric="trigger_share",
    datasets=[FEDGAN_INPUT],
)
