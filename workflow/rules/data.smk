# Downloads (verified, atomic), parsing to columnar files, data summaries and the run manifest.
# Downloads and the manifest run where the network or the mirror is: localrules on a cluster.


localrules:
    fetch_physionet_checksums,
    fetch_physionet_file,
    fetch_medmnist,
    manifest,


rule fetch_physionet_checksums:
    output:
        "resources/physionet/{slug}/{version}/SHA256SUMS.txt",
    log:
        "logs/resources/physionet/{slug}/{version}/SHA256SUMS.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../../scripts/fetch.py"


rule fetch_physionet_file:
    input:
        "resources/physionet/{slug}/{version}/SHA256SUMS.txt",
    output:
        "resources/physionet/{slug}/{version}/{path}",
    log:
        "logs/resources/physionet/{slug}/{version}/{path}.log",
    wildcard_constraints:
        path=r"(?!SHA256SUMS\.txt$)[^.][^\s]*",
    conda:
        "../../envs/data.yaml"
    script:
        "../../scripts/fetch.py"


rule fetch_medmnist:
    output:
        "resources/zenodo/{record}/{name}.npz",
    log:
        "logs/resources/zenodo/{record}/{name}.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../../scripts/fetch.py"


rule parse_challenge2012:
    input:
        lambda wc: dataset_resources("challenge2012"),
    output:
        "results/data/challenge2012/cohort.npz",
    log:
        "logs/data/challenge2012/parse.log",
    benchmark:
        "results/benchmarks/data/parse_challenge2012.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        sets=config["data"]["challenge2012"]["sets"],
        hours=config["data"]["challenge2012"]["hours"],
    script:
        "../../scripts/parse_challenge2012.py"


rule parse_mimic_demo:
    input:
        lambda wc: dataset_resources(wc.dataset),
    output:
        "results/data/{dataset}/cohort.npz",
    log:
        "logs/data/{dataset}/parse.log",
    benchmark:
        "results/benchmarks/data/parse_{dataset}.tsv"
    wildcard_constraints:
        dataset="mimic3_demo|mimic4_demo",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        hours=config["data"]["challenge2012"]["hours"],
        prefix=lambda wc: f"resources/{registry.PHYSIONET[wc.dataset].prefix}/",
    script:
        "../../scripts/parse_mimic.py"


rule parse_mimic_credentialed:
    input:
        lambda wc: credentialed_tables(wc.dataset),
    output:
        "results/data/{dataset}/cohort.npz",
    log:
        "logs/data/{dataset}/parse.log",
    benchmark:
        "results/benchmarks/data/parse_{dataset}.tsv"
    wildcard_constraints:
        dataset="mimic3|mimic4",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=16000,
        runtime=240,
    params:
        hours=config["data"]["challenge2012"]["hours"],
        prefix=lambda wc: str(Path(config["data"][f"{wc.dataset}_path"] or ".")) + "/",
    script:
        "../../scripts/parse_mimic.py"


rule parse_challenge2017:
    input:
        lambda wc: dataset_resources("challenge2017"),
    output:
        "results/data/challenge2017/ecg.npz",
    log:
        "logs/data/challenge2017/parse.log",
    benchmark:
        "results/benchmarks/data/parse_challenge2017.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        labels=config["data"]["challenge2017"]["labels"],
    script:
        "../../scripts/parse_challenge2017.py"


rule summarize_dataset:
    input:
        summary_input,
    output:
        "results/data/{dataset}/summary.csv",
    log:
        "logs/data/{dataset}/summary.log",
    benchmark:
        "results/benchmarks/data/summarize_{dataset}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        medmnist=config["data"]["medmnist"],
    script:
        "../../scripts/summarize_dataset.py"


rule data_figures:
    input:
        "results/data/{dataset}/summary.csv",
    output:
        report(
            directory("results/data/{dataset}/figures"),
            patterns=["{name}.png"],
            caption="../report/data_summary.rst",
            category="data",
            subcategory="{dataset}",
        ),
    log:
        "logs/data/{dataset}/figures.log",
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/data_figures.py"


rule manifest:
    input:
        lambda wc: all_resources(),
    output:
        "results/manifest.json",
    log:
        "logs/manifest.log",
    conda:
        "../../envs/data.yaml"
    params:
        weights=lambda wc: {name: study["weights"] for name, study in STUDIES.items() if study["weights"]},
    script:
        "../../scripts/manifest.py"
