"""General enhancement: move every subject's features a little along the gradient that lowers a
surrogate model's loss on its own label, so that any classifier later finds the labels easier
(Rosenblatt, Dadashkarimi & Scheinost, arXiv 2301.01885, "general enhancement").

Choices made here (the paper's code was not public when this was written):

* Surrogate: a logistic regression (:class:`~medrobust.enhancement.surrogates.Surrogate` 'lr') fitted
  on all subjects of the data set being altered, re-fitted warm after every step.
* Step: each subject moves ``step_size`` times the norm of its own centred original vector along its
  normalised negative loss gradient (so every subject moves alike, whatever its current loss).
* Constraint: after every step the accumulated change is shrunk along its ray until the subject's
  Pearson r with its original is >= ``target_r`` (:mod:`.correlation_constraint`). Every subject
  therefore ends with r >= target_r, most of them at the boundary.
* Only cells whose value is held by at most ``max_shared`` subjects move (:mod:`.mutable_cells`), so
  binary, count, imputed and clipped values keep their exact values; with ``keep_range`` no value
  leaves its variable's observed range (:func:`~medrobust.enhancement.mutable_cells.keep_in_range`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medrobust.enhancement.correlation_constraint import centred_norm, pearson_rows, project, unit_rows
from medrobust.enhancement.mutable_cells import keep_in_range, mutable_cells
from medrobust.enhancement.surrogates import Surrogate


@dataclass
class Enhanced:
    """What every attack returns: the altered features (N, F) and each subject's r with its original."""

    x: np.ndarray
    r: np.ndarray


@dataclass
class GeneralEnhancement:
    target_r: float
    steps: int = 40
    step_size: float = 0.03
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
        surrogate = Surrogate("lr", x0.shape[1], lr=self.lr, weight_decay=self.weight_decay,
                              seed=self.seed).fit(x0, y, self.epochs_first)
        x_cur = x0.copy()
        mutable = mutable_cells(x0, self.max_shared)
        radius = self.step_size * centred_norm(x0)
        for _ in range(self.steps):
            _, grad = surrogate.loss_gradient(x_cur, y)
            x_new = x_cur - radius[:, None] * unit_rows(grad * mutable)
            x_cur = project(x0, keep_in_range(x0, x_new) if self.keep_range else x_new, self.target_r)
            surrogate.fit(x_cur, y, self.epochs_per_step)
        return Enhanced(x=x_cur, r=pearson_rows(x0, x_cur))

