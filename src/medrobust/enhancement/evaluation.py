"""The victims: 10-fold cross-validation of logistic regression, a linear SVM and an MLP, run on the
original and on the enhanced data exactly as an analyst who trusts the data would run it
(Rosenblatt et al., arXiv 2301.01885, Sec. 3: LR, SVM and MLP, 10-fold CV, accuracy).

scikit-learn (Pedregosa et al., JMLR 2011) pipelines, each refitting its scaler inside every fold:

* ``lr``: ``StandardScaler`` + ``LogisticRegression`` (L2, ``C``);
* ``svm``: ``StandardScaler`` + ``LinearSVC`` (L2, ``C``);
* ``mlp``: ``StandardScaler`` + ``MLPClassifier`` (one hidden ReLU layer of ``hidden`` units, L-BFGS,
  ``max_iter`` iterations, L2 ``alpha``). L-BFGS rather than Adam: on a few hundred rows it
  converges in a fraction of the time.

Folds are stratified and shuffled with the job's seed; the same folds serve every model and every
version of a data set, so accuracies are paired. Accuracy is pooled over the out-of-fold predictions
(every subject predicted once); :func:`accuracy_estimate` gives its Wilson interval and
:func:`paired_gap` the bootstrap interval of a difference between two models on the same subjects.
Every prediction comes with the model's score for class 1 (:func:`positive_score`: the decision
function of LR and the SVM, the MLP's probability), from which the victims' AUROC is computed.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from medrobust.core.metrics import Estimate, bootstrap_ci, proportion_ci

VICTIMS = ("lr", "svm", "mlp")


@dataclass(frozen=True)
class VictimSettings:
    c: float = 1.0
    hidden: int = 64
    alpha: float = 1e-3
    max_iter: int = 200


def victim(name: str, settings: VictimSettings, seed: int):
    """An unfitted scikit-learn pipeline for victim ``name``."""
    if name == "lr":
        model = LogisticRegression(C=settings.c, max_iter=2000)
    elif name == "svm":
        # liblinear shuffles with random_state; unset, it draws from numpy's global state, which
        # depends on what ran earlier in the process (a resumed run then differs in the 5th digit)
        model = LinearSVC(C=settings.c, max_iter=20000, random_state=seed % 2**31)
    elif name == "mlp":
        model = MLPClassifier(hidden_layer_sizes=(settings.hidden,), solver="lbfgs", alpha=settings.alpha,
                              max_iter=settings.max_iter, random_state=seed % 2**31)
    else:
        raise ValueError(f"unknown victim {name!r}; use one of {VICTIMS}")
    return make_pipeline(StandardScaler(), model)


def fold_index(y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """The fold (0..folds-1) of every subject: stratified, shuffled with ``seed``."""
    out = np.empty(len(y), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed % 2**31)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(y)), y)):
        out[test] = k
    return out


def positive_score(fitted, x: np.ndarray) -> np.ndarray:
    """A fitted victim's score for class 1: higher means more likely 1 (for ROC curves)."""
    if hasattr(fitted, "decision_function"):
        return np.asarray(fitted.decision_function(x), dtype=np.float64)
    return np.asarray(fitted.predict_proba(x)[:, 1], dtype=np.float64)


def cross_val_scores(x: np.ndarray, y: np.ndarray, model, folds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predicted labels and scores for class 1, one model refitted per fold."""
    pred = np.empty(len(y), dtype=np.int64)
    score = np.empty(len(y), dtype=np.float64)
    with warnings.catch_warnings():
        # An MLP that stops at max_iter is what a victim would get too; the log needs no 40 warnings.
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in np.unique(folds):
            test = folds == k
            fitted = clone(model).fit(x[~test], y[~test])
            pred[test] = fitted.predict(x[test])
            score[test] = positive_score(fitted, x[test])
    return pred, score


def cross_val_predict(x: np.ndarray, y: np.ndarray, model, folds: np.ndarray) -> np.ndarray:
    """Out-of-fold predicted labels, one model refitted per fold."""
    return cross_val_scores(x, y, model, folds)[0]


def accuracy_estimate(y: np.ndarray, pred: np.ndarray) -> Estimate:
    return proportion_ci(int(np.sum(np.asarray(y) == np.asarray(pred))), len(y))


def paired_gap(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, rng: np.random.Generator,
               n_boot: int) -> Estimate:
    """Accuracy of ``a`` minus accuracy of ``b`` on the same subjects, with a bootstrap CI over subjects."""
    diff = (np.asarray(pred_a) == y).astype(float) - (np.asarray(pred_b) == y).astype(float)
    return bootstrap_ci(np.mean, diff, rng=rng, n_boot=n_boot)


def data_versions(x: np.ndarray, attacked: list[dict[str, np.ndarray]]):
    """``(attack, target_r, features)`` for the original release (attack 'none', r 1.0) and every
    enhanced version in ``attacked`` (the arrays of :func:`medrobust.enhancement.sweep.run_sweep`)."""
    yield "none", 1.0, x
    for sweep in attacked:
        for target, x_enh in zip(sweep["targets"], sweep["x"]):
            yield str(sweep["attack"]), float(target), x_enh


def cross_validate_versions(x: np.ndarray, y: np.ndarray, attacked: list[dict[str, np.ndarray]],
                            victims: list[str], settings: VictimSettings, folds: int, seed: int) -> pd.DataFrame:
    """Out-of-fold predictions of every victim on every version of the release, on the same folds.

    One row per subject, version and victim: ``attack, target_r, model, subject, y, pred, score``.
    """
    fold = fold_index(y, folds, seed)
    frames = []
    for attack, target, x_version in data_versions(x, attacked):
        for name in victims:
            pred, score = cross_val_scores(x_version, y, victim(name, settings, seed), fold)
            frames.append(pd.DataFrame({"attack": attack, "target_r": target, "model": name,
                                        "subject": np.arange(len(y)), "y": y, "pred": pred, "score": score}))
    return pd.concat(frames, ignore_index=True)
