"""Method-specific enhancement: alter the data so that one method (an MLP) looks better than another
(logistic regression), by lowering the favoured model's loss while raising the other's
(Rosenblatt, Dadashkarimi & Scheinost, arXiv 2301.01885, "enhancement of a particular method over
another"; they report a simple neural network beating logistic regression by 17 points at r = 0.99
where the original data showed no difference).

Choices made here:

* Surrogates: a one-hidden-layer ReLU MLP (``favoured``) and a logistic regression (``disfavoured``),
  both fitted on all subjects of the data being altered and re-fitted warm after every step
  (:class:`~medrobust.enhancement.surrogates.Surrogate`).
* Objective per subject: ``loss_mlp - weight * loss_lr``. Each step moves every subject
  ``step_size`` times the norm of its centred original vector along the normalised negative gradient
  of that objective.
* Class means kept (``preserve_class_means``, on by default): after every step the accumulated
  change is re-centred within each class, so the enhancement adds (almost: the shrink below rescales
  each subject's change) no difference between the class means, the signal a linear model uses.
  Without it the MLP's gradient is mostly linear and the game ends with data every model separates:
  in this study's first runs (every cell mutable) LR and MLP both reached ~99% on the chance task
  at r = 0.99.
* Constraint: the change is then kept inside each variable's observed range (``keep_range``) and
  shrunk until r >= ``target_r`` (:mod:`.correlation_constraint`), as in :mod:`.general_enhancement`,
  and only cells held by at most ``max_shared`` subjects move (:mod:`.mutable_cells`). That freeze
  costs this attack most of its effect on PhysioNet 2012 features (only ~15% of cells hold a value no
  other stay shares).

The study runs this attack twice: stealth-constrained (the freeze and the range, as configured) and,
as ``method_specific_unconstrained`` (:mod:`.sweep`), without them (every cell mutable, no range
limit: r >= target is its only budget), so that the report shows what the stealth constraints cost
and what the unconstrained edit looks like. Both keep the re-centring.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medrobust.enhancement.correlation_constraint import centred_norm, pearson_rows, project, unit_rows
from medrobust.enhancement.general_enhancement import Enhanced
from medrobust.enhancement.mutable_cells import keep_in_range, mutable_cells
from medrobust.enhancement.surrogates import Surrogate


@dataclass
class MethodSpecificEnhancement:
    target_r: float
    steps: int = 40
    step_size: float = 0.03
    weight: float = 1.0
    preserve_class_means: bool = True
    hidden: int = 64
    epochs_first: int = 200
    epochs_per_step: int = 10
    lr: float = 0.01
    weight_decay: float = 1e-3
    max_shared: int = 1
    keep_range: bool = True
    seed: int = 0

    def apply(self, x: np.ndarray, y: np.ndarray) -> Enhanced:
        x0 = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        kw = {"lr": self.lr, "weight_decay": self.weight_decay}
        favoured = Surrogate("mlp", x0.shape[1], hidden=self.hidden, seed=self.seed, **kw).fit(x0, y, self.epochs_first)
        disfavoured = Surrogate("lr", x0.shape[1], seed=self.seed + 1, **kw).fit(x0, y, self.epochs_first)
        x_cur = x0.copy()
        mutable = mutable_cells(x0, self.max_shared)
        radius = self.step_size * centred_norm(x0)
        for _ in range(self.steps):
            _, grad_keep = favoured.loss_gradient(x_cur, y)
            _, grad_hurt = disfavoured.loss_gradient(x_cur, y)
            grad = (grad_keep - self.weight * grad_hurt) * mutable
            x_new = x_cur - radius[:, None] * unit_rows(grad)
            if self.preserve_class_means:
                x_new = x0 + class_centred(x_new - x0, y, mutable)
            if self.keep_range:
                x_new = keep_in_range(x0, x_new)
            x_cur = project(x0, x_new, self.target_r)
            favoured.fit(x_cur, y, self.epochs_per_step)
            disfavoured.fit(x_cur, y, self.epochs_per_step)
        return Enhanced(x=x_cur, r=pearson_rows(x0, x_cur))


def class_centred(d: np.ndarray, y: np.ndarray, mutable: np.ndarray) -> np.ndarray:
    """``d`` with, per class of ``y`` and column, the mean over the mutable cells taken off those cells
    (frozen cells stay 0, so each class's mean change per column is 0)."""
    out = d.copy()
    for label in np.unique(y):
        rows = y == label
        cells = mutable[rows]
        n = np.maximum(cells.sum(axis=0), 1)
        mean = (d[rows] * cells).sum(axis=0) / n
        out[rows] = np.where(cells, d[rows] - mean, 0.0)
    return out
