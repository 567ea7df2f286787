"""External validation: train on the (possibly enhanced) release, test on untouched data from another
source. An enhancement attack alters only the data it is applied to, so a model that learnt the
injected pattern should fall back to the true accuracy on held-out data the attacker never saw
(Rosenblatt et al., arXiv 2301.01885, Discussion; here the held-out data are stays of another
PhysioNet 2012 set, :mod:`medrobust.enhancement.tasks`).

Each victim (:func:`medrobust.enhancement.evaluation.victim`) is fitted on the whole release and
predicts the external sample; accuracy comes with its Wilson interval. As a detector, the check flags
a release when, for any victim, the upper end of the external accuracy's 95% interval lies below the
release's own cross-validated accuracy (the reported accuracy does not hold up outside).
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from medrobust.core.metrics import Estimate
from medrobust.enhancement.evaluation import accuracy_estimate, positive_score


def external_predictions(model, x_train: np.ndarray, y_train: np.ndarray,
                         x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels and class-1 scores predicted for ``x_test`` by ``model`` fitted on all of ``x_train``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = clone(model).fit(x_train, y_train)
    return fitted.predict(x_test), positive_score(fitted, x_test)


def external_accuracy(model, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                      y_test: np.ndarray) -> Estimate:
    return accuracy_estimate(y_test, external_predictions(model, x_train, y_train, x_test)[0])


def collapsed(internal_accuracy: float, external: Estimate) -> bool:
    """The detector's rule for one victim: the external interval lies wholly below the internal accuracy."""
    return bool(external.ci_high < internal_accuracy)
