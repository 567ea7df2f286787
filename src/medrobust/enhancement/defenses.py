"""Every check of the study run on every version of one task's release: the original (attack
'none') and each attack at each target r. The checks themselves live in their own modules
(:mod:`.provenance`, :mod:`.distribution_qc`, :mod:`.label_screening`, :mod:`.external_validation`);
this module only loops, times them and writes one tidy row per (version, check): ``score``,
``threshold`` and ``flagged`` as the check defines them (for provenance: the share of altered rows
flagged, and whether the whole-table digest differs), ``detail`` the check's secondary number (for
provenance: unaltered rows flagged, i.e. false alarms), ``seconds`` what the check cost.

Defense ids name the check and, for the comparisons, what it compares with: ``_original`` is the
release as it left the data owner (the defender kept a copy), ``_reference`` an independent
reference release (stays of a third PhysioNet 2012 set, with their own labels).

``provenance_regenerated_manifest`` is the provenance check's honest limit: the same hash check run
against a manifest that the attacker regenerated from the table after editing it (an attacker who
controls the manifest as well as the data). It passes every version by construction; the study
measures it to show what a hash manifest cannot see.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from medrobust.enhancement.distribution_qc import DistributionQC
from medrobust.enhancement.evaluation import VictimSettings, data_versions, victim
from medrobust.enhancement.external_validation import external_predictions
from medrobust.enhancement.label_screening import LabelScreening
from medrobust.enhancement.provenance import Provenance, timed_check
from medrobust.enhancement.tasks import TaskData

CHECK_COLUMNS = ["attack", "target_r", "defense", "score", "threshold", "flagged", "detail", "seconds"]


@dataclass(frozen=True)
class CheckSettings:
    alpha: float = 0.05
    n_boot: int = 50


def run_checks(release: TaskData, attacked: list[dict[str, np.ndarray]], manifest: dict, victims: list[str],
               victim_settings: VictimSettings, settings: CheckSettings,
               seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check rows (``CHECK_COLUMNS``) and the external sample's predictions per version and victim."""
    provenance = Provenance.from_json(manifest)
    qc = {"original": DistributionQC(settings.alpha, settings.n_boot, seed).fit(release.x),
          "reference": DistributionQC(settings.alpha, settings.n_boot, seed).fit(release.x_reference)}
    screens = {"original": LabelScreening(settings.alpha).fit(release.x, release.y),
               "reference": LabelScreening(settings.alpha).fit(release.x_reference, release.y_reference)}
    rows, external = [], []
    for attack, target, x in data_versions(release.x, attacked):
        flags, table_altered, seconds = timed_check(provenance, x, release.stay_id)
        changed = np.any(x != release.x, axis=1)
        # score: share of the altered rows flagged (NaN if none); detail: unaltered rows flagged.
        recall = float(flags[changed].mean()) if changed.any() else float("nan")
        rows.append((attack, target, "provenance", recall, 0.0, table_altered, float(flags[~changed].sum()), seconds))
        rows.append(_regenerated_manifest_row(attack, target, x, release.stay_id, changed))
        for ref_name, detector in qc.items():
            rows += [(attack, target, f"{name}_{ref_name}", res.score, res.threshold, res.flagged, res.detail,
                      res.seconds) for name, res in detector.score(x).items()]
        for ref_name, screen in screens.items():
            start = time.perf_counter()
            res = screen.score(x, release.y)
            rows.append((attack, target, f"label_screening_{ref_name}", res.score, 1.0, res.flagged, res.max_abs_r,
                         time.perf_counter() - start))
        for name in victims:
            pred, score = external_predictions(victim(name, victim_settings, seed), x, release.y, release.x_external)
            external.append(pd.DataFrame({"attack": attack, "target_r": target, "model": name,
                                          "subject": np.arange(len(pred)), "y": release.y_external, "pred": pred,
                                          "score": score}))
    checks = pd.DataFrame(rows, columns=CHECK_COLUMNS)
    checks["flagged"] = checks["flagged"].astype(bool)
    return checks, pd.concat(external, ignore_index=True)


def _regenerated_manifest_row(attack: str, target: float, x: np.ndarray, ids: np.ndarray, changed: np.ndarray):
    """The provenance check against a manifest the attacker rebuilt from the edited table ``x``."""
    forged = Provenance().fit(x, ids)
    flags, table_altered, seconds = timed_check(forged, x, ids)
    recall = float(flags[changed].mean()) if changed.any() else float("nan")
    return (attack, target, "provenance_regenerated_manifest", recall, 0.0, table_altered,
            float(flags[~changed].sum()), seconds)
