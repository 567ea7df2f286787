# The HTML report: scorecard, attack-by-defense matrices, data summaries, figures, manifest and
# per-rule timings. It reads stored results only, so `make report` never retrains anything.


localrules:
    report,
    scorecard_figures,


rule scorecard_figures:
    input:
        claims=lambda wc: study_results("claims"),
    output:
        forest=report(
            "results/report/figures/forest.png",
            caption="../report/report_forest.rst",
            category="scorecard",
        ),
    log:
        "logs/report/scorecard_figures.log",
    benchmark:
        "results/benchmarks/report/scorecard_figures.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/scorecard_figures.py"


rule report:
    input:
        metrics=lambda wc: study_results("metrics"),
        claims=lambda wc: study_results("claims"),
        summaries=lambda wc: summary_files(),
        data_figures=lambda wc: [f"results/data/{d}/figures" for d in config["data"]["summaries"]],
        study_figures=lambda wc: [f for s in STUDIES.values() for f, _ in s["figures"]],
        manifest="results/manifest.json",
        forest="results/report/figures/forest.png",
    output:
        "reports/report.html",
    log:
        "logs/report.log",
    conda:
        "../../envs/report.yaml"
    params:
        studies=lambda wc: {
            k: {"matrix_metric": v["matrix_metric"], "figures": v["figures"]} for k, v in STUDIES.items()
        },
        benchmarks="results/benchmarks",
        forest_caption=str(Path(workflow.basedir) / "workflow" / "report" / "report_forest.rst"),
    script:
        "../../scripts/report.py"
