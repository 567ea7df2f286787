"""Enhancement attacks on generated data: the r constraint, the accuracy they fake, the cells they keep."""
from __future__ import annotations

import numpy as np
import pytest

from medrobust.enhancement.correlation_constraint import _bisect, feasible_fraction, pearson_rows, project
from medrobust.enhancement.evaluation import VictimSettings, cross_val_predict, fold_index, victim
from medrobust.enhancement.general_enhancement import GeneralEnhancement
from medrobust.enhancement.method_specific import MethodSpecificEnhancement
from medrobust.enhancement.mutable_cells import mutable_cells
from medrobust.enhancement.pattern_injection import PatternInjection
from medrobust.enhancement.surrogates import Surrogate


def label_free(n=160, f=40, seed=0):
    """Standard normal features and balanced labels drawn independently of them."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, f)), rng.permutation(np.repeat([0, 1], n // 2))


def cv_accuracy(x, y, model="lr", folds=5):
    pred = cross_val_predict(x, y, victim(model, VictimSettings(), 0), fold_index(y, folds, 0))
    return float(np.mean(pred == y))


def independent_r(a, b):
    return np.array([np.corrcoef(a[i], b[i])[0, 1] for i in range(len(a))])


@pytest.mark.parametrize("attack", [GeneralEnhancement, PatternInjection, MethodSpecificEnhancement])
@pytest.mark.parametrize("target", [0.999, 0.99, 0.9])
def test_every_subject_keeps_r_at_or_above_the_target(attack, target):
    x, y = label_free(n=60, f=30)
    kwargs = {} if attack is PatternInjection else {"steps": 8, "epochs_first": 30}
    enhanced = attack(target_r=target, max_shared=len(x), **kwargs).apply(x, y)
    r = independent_r(x, enhanced.x)  # np.corrcoef, not the module's own r
    assert np.all(r >= target), r.min()
    np.testing.assert_allclose(enhanced.r, r, atol=1e-12)
    assert not np.allclose(enhanced.x, x)  # it did alter the data


def test_projection_keeps_the_largest_feasible_part_of_each_change():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 20))
    d = rng.standard_normal((50, 20))
    t = feasible_fraction(x, d, 0.95)
    t_bisect = _bisect(x, d, 0.95 + 1e-9, np.ones(50))
    np.testing.assert_allclose(t, t_bisect, atol=1e-9)                 # closed form = bisection
    assert np.all(pearson_rows(x, x + t[:, None] * d) >= 0.95)
    small = project(x, x + 1e-6 * d, 0.95)                              # an unconstrained change stays whole
    np.testing.assert_allclose(small, x + 1e-6 * d)
    flat = np.ones((1, 20))
    np.testing.assert_array_equal(project(flat, flat + d[:1], 0.9), flat)  # a constant row has no r: untouched


def test_general_enhancement_raises_cv_accuracy_on_label_free_data():
    x, y = label_free()
    before = cv_accuracy(x, y)
    enhanced = GeneralEnhancement(target_r=0.99, max_shared=len(x)).apply(x, y)
    after = cv_accuracy(enhanced.x, y)
    assert before < 0.65, before
    assert after > 0.9, after
    assert cv_accuracy(enhanced.x, y, "svm") > 0.9


def test_pattern_injection_raises_cv_accuracy_on_label_free_data():
    x, y = label_free()
    enhanced = PatternInjection(target_r=0.95, max_shared=len(x), seed=1).apply(x, y)
    assert cv_accuracy(x, y) < 0.65 < 0.9 < cv_accuracy(enhanced.x, y)


def test_method_specific_favours_the_mlp_over_lr_on_label_free_data():
    x, y = label_free(n=200, f=30, seed=2)
    enhanced = MethodSpecificEnhancement(target_r=0.95, max_shared=len(x), seed=2).apply(x, y)
    gap = cv_accuracy(enhanced.x, y, "mlp") - cv_accuracy(enhanced.x, y, "lr")
    assert gap > 0.1, gap


def test_tied_cells_keep_their_exact_values():
    x, y = label_free(n=80, f=20)
    x[:, 0] = np.repeat([0.0, 1.0], 40)        # a binary column
    x[:30, 1] = 0.25                          # an imputed fill shared by 30 rows
    enhanced = GeneralEnhancement(target_r=0.95, steps=8, epochs_first=30).apply(x, y)
    frozen = ~mutable_cells(x, 1)
    assert frozen[:, 0].all() and frozen[:30, 1].all() and not frozen[30:, 1].any()
    np.testing.assert_array_equal(enhanced.x[frozen], x[frozen])
    assert not np.allclose(enhanced.x[~frozen], x[~frozen])


@pytest.mark.parametrize("kind", ["lr", "mlp"])
def test_surrogate_input_gradient_matches_finite_differences(kind):
    x, y = label_free(n=12, f=6)
    model = Surrogate(kind, 6, hidden=5, seed=1).fit(x, y, 20)
    loss, grad = model.loss_gradient(x, y)
    eps = 1e-6
    for j in range(6):
        step = np.zeros_like(x)
        step[:, j] = eps
        numeric = (model.loss_gradient(x + step, y)[0] - model.loss_gradient(x - step, y)[0]) / (2 * eps)
        np.testing.assert_allclose(grad[:, j], numeric, rtol=1e-4, atol=1e-7)
    before = model.loss_gradient(x, y)[0].mean()
    assert model.fit(x, y, 200).loss_gradient(x, y)[0].mean() < before  # training lowers the loss
