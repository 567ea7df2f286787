"""Pattern injection: add a fixed, label-dependent pattern to every subject at a small scale, the
simpler enhancement baseline of Rosenblatt et al., "Connectome-based machine learning models are
vulnerable to subtle data manipulations" (Patterns 2023, doi:10.1016/j.patter.2023.100756), who add
an enhancement pattern in proportion to each participant's (z-scored) outcome.

Here, for a binary label: one pattern ``p`` (standard normal per feature, drawn from the job's seed,
scaled to unit norm) is added as ``+p`` to subjects of class 1 and ``-p`` to class 0, each subject's
copy as large as the similarity constraint allows: its magnitude is ``max_scale`` times the norm of
the subject's centred vector, shrunk until r >= ``target_r`` (:mod:`.correlation_constraint`), and
only on the cells held by at most ``max_shared`` subjects and inside each variable's observed range
(``keep_range``; :mod:`.mutable_cells`). No model and no
gradient are involved, so this is what an attacker gets without a surrogate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medrobust.enhancement.correlation_constraint import centred_norm, pearson_rows, project
from medrobust.enhancement.general_enhancement import Enhanced
from medrobust.enhancement.mutable_cells import keep_in_range, mutable_cells


@dataclass
class PatternInjection:
    target_r: float
    max_scale: float = 1.0
    max_shared: int = 1
    keep_range: bool = True
    seed: int = 0

    def apply(self, x: np.ndarray, y: np.ndarray) -> Enhanced:
        x0 = np.asarray(x, dtype=np.float64)
        sign = np.where(np.asarray(y) == 1, 1.0, -1.0)
        pattern = np.random.default_rng(self.seed).standard_normal(x0.shape[1])
        pattern /= np.linalg.norm(pattern)
        change = (sign * self.max_scale * centred_norm(x0))[:, None] * pattern[None, :]
        change *= mutable_cells(x0, self.max_shared)
        x_new = x0 + change
        x_new = project(x0, keep_in_range(x0, x_new) if self.keep_range else x_new, self.target_r)
        return Enhanced(x=x_new, r=pearson_rows(x0, x_new))
