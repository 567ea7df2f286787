"""The checks on generated data: provenance, distribution QC, label screening, external validation."""
from __future__ import annotations

import numpy as np

from medrobust.core.metrics import Estimate
from medrobust.enhancement.distribution_qc import DistributionQC
from medrobust.enhancement.external_validation import collapsed, external_accuracy
from medrobust.enhancement.evaluation import VictimSettings, victim
from medrobust.enhancement.label_screening import LabelScreening
from medrobust.enhancement.provenance import Provenance, timed_check


def table(n=200, f=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, f)), np.arange(1000, 1000 + n)


def test_provenance_flags_a_single_changed_value():
    x, ids = table()
    manifest = Provenance().fit(x, ids)
    assert manifest.score(x.copy(), ids).sum() == 0 and not manifest.table_altered(x.copy(), ids)
    altered = x.copy()
    altered[37, 5] = np.nextafter(altered[37, 5], np.inf)   # one value, one ulp
    flags = manifest.score(altered, ids)
    assert flags[37] == 1 and flags.sum() == 1
    assert manifest.table_altered(altered, ids)
    flags, table_flag, seconds = timed_check(manifest, altered, ids)
    assert table_flag and flags.sum() == 1 and seconds >= 0


def test_provenance_manifest_round_trips_and_catches_reordered_or_dropped_rows():
    x, ids = table()
    manifest = Provenance.from_json(Provenance().fit(x, ids).to_json())
    assert manifest.score(x, ids).sum() == 0
    order = np.roll(np.arange(len(x)), 1)
    assert manifest.score(x[order], ids[order]).sum() == 0     # each row still matches its own id
    assert manifest.table_altered(x[order], ids[order])         # but the table is not the one released
    assert manifest.table_altered(x[:-1], ids[:-1])


def test_distribution_qc_false_alarms_on_fresh_samples_stay_near_alpha():
    flags = []
    for seed in range(40):
        reference, _ = table(n=150, f=8, seed=100 + seed)
        fresh, _ = table(n=150, f=8, seed=200 + seed)
        flags.append([r.flagged for r in DistributionQC(n_boot=30, seed=seed).fit(reference).score(fresh).values()])
    rates = np.mean(flags, axis=0)   # ks, corr, stats at alpha = 0.05
    assert np.all(rates <= 0.15), rates


def test_distribution_qc_flags_a_shifted_feature():
    reference, _ = table(seed=1)
    fresh, _ = table(seed=2)
    qc = DistributionQC(n_boot=30).fit(reference)
    assert not qc.score(fresh)["ks"].flagged and not qc.score(fresh)["stats"].flagged
    shifted = fresh.copy()
    shifted[:, 3] += 1.0                                        # one feature's mean moved by 1 SD
    result = qc.score(shifted)
    assert result["ks"].flagged and result["stats"].flagged and result["ks"].score >= 1


def test_distribution_qc_flags_a_changed_correlation_structure():
    reference, _ = table(n=300, seed=3)
    rng = np.random.default_rng(4)
    mixed = rng.standard_normal((300, 12))
    mixed[:, 1] = 0.9 * mixed[:, 0] + np.sqrt(1 - 0.81) * mixed[:, 1]  # same marginals, new correlation
    result = DistributionQC(n_boot=30).fit(reference).score(mixed)
    assert result["corr"].flagged and result["corr"].score > result["corr"].threshold


def test_label_screening_flags_a_feature_made_to_follow_the_label():
    x, _ = table(seed=5)
    y = np.random.default_rng(6).permutation(np.repeat([0, 1], 100))
    screen = LabelScreening().fit(x, y)
    assert not screen.score(x, y).flagged
    tampered = x.copy()
    tampered[:, 2] += 1.2 * (2 * y - 1)
    result = screen.score(tampered, y)
    assert result.flagged and result.max_abs_r > 0.4


def test_external_validation_sees_through_an_injected_pattern():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((200, 10)), rng.permutation(np.repeat([0, 1], 100))
    x_ext, y_ext = rng.standard_normal((200, 10)), rng.permutation(np.repeat([0, 1], 100))
    injected = x + 1.5 * (2 * y - 1)[:, None] * np.eye(10)[0]
    est = external_accuracy(victim("lr", VictimSettings(), 0), injected, y, x_ext, y_ext)
    assert est.ci_low < 0.5 < est.ci_high + 0.1               # back to chance outside
    assert collapsed(0.95, est)
    assert not collapsed(0.5, Estimate(0.5, 0.43, 0.57, 200))
