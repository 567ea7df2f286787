"""The study end to end on a generated cohort: tasks, sweeps, victims, checks, result files, figures."""
from __future__ import annotations

import numpy as np
import pytest

from medrobust.core.records import metrics_frame, claims_frame
from medrobust.data.cohort import Cohort
from medrobust.enhancement.collect import collect
from medrobust.enhancement.defenses import CheckSettings, run_checks
from medrobust.enhancement.evaluation import VictimSettings, cross_validate_versions
from medrobust.enhancement.figures import draw_figures
from medrobust.enhancement.provenance import Provenance
from medrobust.enhancement.sweep import run_sweep
from medrobust.enhancement.tasks import prepare

FAST = {"steps": 6, "epochs_first": 30}


def generated_cohort(per_set=60, hours=6, seed=0) -> Cohort:
    """Three 2012-style sets; deaths have a higher first variable, so mortality is learnable."""
    rng = np.random.default_rng(seed)
    n = 3 * per_set
    label = (rng.random(n) < 0.4).astype(np.int8)
    values = rng.normal(0, 1, (n, hours, 4)) + 1.5 * label[:, None, None] * np.array([1, 0, 0, 0])
    values[rng.random(values.shape) < 0.3] = np.nan
    static = np.column_stack([rng.integers(20, 90, n), rng.integers(0, 2, n), rng.normal(170, 10, n),
                              rng.integers(1, 5, n), rng.normal(80, 10, n)]).astype(np.float32)
    return Cohort(values=values.astype(np.float32), mask=np.isfinite(values).astype(np.uint8),
                  variables=np.array(["HR", "Temp", "Urine", "GCS"]), static=static,
                  static_names=np.array(["Age", "Gender", "Height", "ICUType", "Weight"]), label=label,
                  stay_id=np.arange(n) + 132539, group=np.repeat(["a", "b", "c"], per_set), dataset="challenge2012")


ATTACKS = ("general_enhancement", "pattern_injection", "method_specific", "method_specific_unconstrained")
DRAWS = (1, 2, 3)


def run_task(cohort, task, draw=1, targets=(0.99,)):
    release = prepare(cohort, task, 40, 40, 40, "a", "b", "c", 5.0, np.random.default_rng(draw))
    sweeps = [run_sweep(a, release.x, release.y, targets, FAST if a != "pattern_injection" else {}, 7 + draw, task,
                        draw, release.names) for a in ATTACKS]
    settings = VictimSettings(max_iter=50)
    cv = cross_validate_versions(release.x, release.y, sweeps, ["lr", "svm", "mlp"], settings, 3, 5 + draw)
    manifest = Provenance().fit(release.x, release.stay_id).to_json()
    checks, external = run_checks(release, sweeps, manifest, ["lr", "svm", "mlp"], settings,
                                  CheckSettings(n_boot=10), 5)
    return release, {"cv": cv, "checks": checks, "external": external, "sweeps": sweeps, "manifest": manifest}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    cohort = generated_cohort()
    # The first draw sweeps a second target, as sweep_draws: 1 does; the others run the headline r only.
    parts = {(d, task): run_task(cohort, task, d, (0.99, 0.9) if d == 1 else (0.99,))[1]
             for d in DRAWS for task in ("chance", "mortality")}
    metrics, claims, edits = collect(parts, "challenge2012", 0.99, 50, 3, folds=3, attack_steps=6)
    return parts, metrics, claims, edits, tmp_path_factory.mktemp("figures")


def test_tasks_are_balanced_disjoint_and_chance_labels_are_permuted():
    cohort = generated_cohort()
    chance = prepare(cohort, "chance", 40, 40, 40, "a", "b", "c", 5.0, np.random.default_rng(1))
    mortality = prepare(cohort, "mortality", 20, 20, 20, "a", "b", "c", 5.0, np.random.default_rng(1))
    assert chance.y.sum() == 20 and len(chance.y) == 40 and mortality.y.mean() == 0.5
    true_label = dict(zip(cohort.stay_id, cohort.label))
    assert all(true_label[s] == y for s, y in zip(mortality.stay_id, mortality.y))
    assert set(chance.stay_id) <= set(cohort.stay_id[cohort.group == "a"])
    assert np.isfinite(chance.x).all() and np.abs(chance.x).max() <= 5.0
    with pytest.raises(ValueError, match="unknown task"):
        prepare(cohort, "sepsis", 40, 40, 40, "a", "b", "c", 5.0, np.random.default_rng(1))


def test_every_version_of_every_task_is_checked_and_cross_validated(study):
    parts, _, _, _, _ = study
    for (draw, _), part in parts.items():
        versions = part["cv"].groupby(["attack", "target_r", "model"]).size()
        assert len(versions) == 3 * (1 + len(ATTACKS) * (2 if draw == 1 else 1)) and (versions == 40).all()
        assert set(part["checks"]["defense"]) >= {"provenance", "ks_original", "corr_reference",
                                                 "stats_original", "label_screening_reference"}
        prov = part["checks"][part["checks"]["defense"] == "provenance"]
        assert not prov[prov["attack"] == "none"]["flagged"].any()
        assert prov[prov["attack"] != "none"]["flagged"].all()
        assert (prov[prov["attack"] != "none"]["score"] == 1.0).all()
        forged = part["checks"][part["checks"]["defense"] == "provenance_regenerated_manifest"]
        assert len(forged) == len(prov) and not forged["flagged"].any()   # the honest limit: it passes


def test_result_files_follow_the_common_schema_and_claims_are_judged(study):
    _, metrics, claims, _, _ = study
    frame = metrics_frame(metrics)
    assert {"cv_accuracy", "mlp_minus_lr", "mlp_lead_counted", "r_min", "external_accuracy", "external_gain",
            "external_auroc", "detected", "detection_rate", "manifest_seconds", "cells_changed", "edit_iqr_p99",
            "outside_range"} <= set(frame["metric"])
    swept = frame["setting"].str.contains("target_r=0.9;")
    assert (frame.loc[swept, "seeds"] == 1).all() and (frame.loc[~swept, "seeds"] == len(DRAWS)).all()
    n_cv = frame[(frame["metric"] == "cv_accuracy") & swept]["n"]
    assert (n_cv == 40).all()                                     # one draw's subjects
    r_min = frame[frame["metric"] == "r_min"]
    targets = r_min["setting"].str.extract(r"target_r=([0-9.]+)")[0].astype(float)
    assert (r_min["value"].to_numpy() >= targets.to_numpy() - 1e-12).all()
    rates = frame[frame["metric"] == "detection_rate"]
    assert not rates.duplicated(["attack", "defense"]).any()    # one matrix cell each
    prov = rates[(rates["defense"] == "provenance")].set_index("attack")["value"]
    assert prov["none"] == 0.0 and (prov.drop("none") == 1.0).all()
    judged = claims_frame(claims).set_index("claim_id")
    assert len(judged) == 13 and judged["gate"].str.len().gt(0).all() and (judged["seeds"] == len(DRAWS)).all()
    assert judged.loc["provenance_catches_all", "kind"] == "sanity"
    assert judged.loc["provenance_regenerated_manifest", "kind"] == "sanity"
    assert judged.loc["external_collapse_chance", "kind"] == "sanity"
    assert judged.loc["external_exposes_mlp", "kind"] == "claim"
    assert (judged["n"] > 0).all() and judged["scale"].str.contains("3 draws").all()
    assert judged.loc["general_lr", "n"] == 3 * 40                          # subjects pooled over the draws


def test_edit_magnitudes_are_measured_per_variable(study):
    parts, metrics, _, edits, _ = study
    frame = metrics_frame(metrics)
    for task in ("chance", "mortality"):
        rows = frame[frame["setting"] == f"target_r=0.99;task={task}"]
        outside = rows[rows["metric"] == "outside_range"].set_index("attack")["value"]
        # The stealth attacks keep every value in its observed range; the unconstrained variant need not.
        assert (outside[["general_enhancement", "pattern_injection", "method_specific"]] == 0).all()
        changed = rows[rows["metric"] == "cells_changed"].set_index("attack")["value"]
        assert changed["method_specific_unconstrained"] > changed["method_specific"] > 0
        size = rows[rows["metric"].str.startswith("edit_iqr")].set_index(["attack", "metric"])["value"]
        assert (size.xs("edit_iqr_max", level="metric") >= size.xs("edit_iqr_p99", level="metric")).all()
    n_features = len(parts[(1, "chance")]["sweeps"][0]["names"])
    assert set(edits["attack"]) == set(ATTACKS) and len(edits) == 2 * 2 * len(ATTACKS) * n_features
    assert set(edits["draws"]) == {1, len(DRAWS)}
    moved = edits.dropna(subset=["max_iqr"])
    assert len(moved) and (moved["max_iqr"] >= moved["p99_iqr"] - 1e-12).all()


def test_figures_are_drawn(study):
    parts, metrics, _, _, folder = study
    names = ["accuracy_vs_r", "method_gap", "r_histograms", "detection_rates", "external_validation",
             "edit_magnitude"]
    paths = {n: str(folder / f"{n}.png") for n in names}
    draw_figures(metrics_frame(metrics), [s for p in parts.values() for s in p["sweeps"]], paths, 0.99)
    for path in paths.values():
        with open(path, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
