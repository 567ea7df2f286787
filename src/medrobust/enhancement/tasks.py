"""The two classification tasks the enhancement attacks are run on, built from PhysioNet 2012 stays.

* ``chance``: the paper starts from a task at chance level (arXiv 2301.01885 reports 50% accuracy
  before enhancement). ``n`` stays are drawn at random from the training set and given *permuted
  labels*: a vector of ``n/2`` ones and ``n/2`` zeros in a random order drawn from the job's seed,
  independent of the stays' features by construction, so any accuracy above 50% is an artefact.
  The external and reference samples get their own permuted labels the same way.
* ``mortality``: the real in-hospital death label on a balanced subsample (``n/2`` deaths and
  ``n/2`` survivors), so chance is again 50% and the genuine effect sits on top of it.

Each task holds three disjoint samples of the same construction: the *release* (``x``, ``y``) from
``train_set``, which the attacker alters and the victims cross-validate; an *external* sample from
another 2012 set (``external_set``) that the attacker never touches (external validation); and a
*reference* sample from a third set (``reference_set``), the "reference release" that distribution
QC and label screening compare against.

Features: :func:`medrobust.data.stay_features.stay_features`, median-imputed, robustly standardised
(median and IQR) and clipped with statistics fitted on the release only
(:func:`~medrobust.data.stay_features.fit_imputer`), then applied unchanged to the external and
reference samples. The standardised release is the data
the attacker alters and the space in which each subject's Pearson r is measured, so that every
feature weighs alike in r (in raw units, Platelets in the hundreds would hide any change to pH).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medrobust.data.cohort import Cohort
from medrobust.data.stay_features import fit_imputer, stay_features

TASKS = ("chance", "mortality")


@dataclass
class TaskData:
    task: str
    x: np.ndarray
    y: np.ndarray
    stay_id: np.ndarray
    x_external: np.ndarray
    y_external: np.ndarray
    x_reference: np.ndarray
    y_reference: np.ndarray
    names: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        return {"x": self.x, "y": self.y, "stay_id": self.stay_id, "x_external": self.x_external,
                "y_external": self.y_external, "x_reference": self.x_reference,
                "y_reference": self.y_reference, "names": self.names.astype(str),
                "task": np.array(self.task)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "TaskData":
        fields = dict(arrays)
        fields["task"] = str(fields["task"])
        return cls(**fields)


def prepare(cohort: Cohort, task: str, n: int, n_external: int, n_reference: int, train_set: str,
            external_set: str, reference_set: str, clip: float, rng: np.random.Generator) -> TaskData:
    """Draw the release, external and reference samples of ``task`` and compute their features."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; use one of {TASKS}")
    picks = [_draw(cohort, task, group, size, rng)
             for group, size in ((train_set, n), (external_set, n_external), (reference_set, n_reference))]
    index = np.concatenate([p[0] for p in picks])
    feats = stay_features(cohort.subset(index))
    bounds = np.cumsum([0] + [len(p[0]) for p in picks])
    parts = [slice(bounds[i], bounds[i + 1]) for i in range(3)]
    imputer = fit_imputer(feats.x[parts[0]], standardize=True, clip=clip, robust=True)
    x = [imputer.transform(feats.x[p]) for p in parts]
    return TaskData(task=task, x=x[0], y=picks[0][1], stay_id=feats.stay_id[parts[0]],
                    x_external=x[1], y_external=picks[1][1], x_reference=x[2], y_reference=picks[2][1],
                    names=feats.names)


def _draw(cohort: Cohort, task: str, group: str, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Balanced stay indices of one 2012 set and their task labels."""
    in_group = np.flatnonzero(cohort.group == group)
    if len(in_group) == 0:
        raise ValueError(f"the cohort has no stays of set {group!r}; parse it (data.challenge2012.sets)")
    if task == "mortality":
        deaths = in_group[cohort.label[in_group] == 1]
        survivors = in_group[cohort.label[in_group] == 0]
        half = min(size // 2, len(deaths), len(survivors))
        if half < 2:
            raise ValueError(f"set {group!r} has {len(deaths)} deaths and {len(survivors)} survivors; "
                             f"too few for a balanced mortality sample")
        index = np.concatenate([rng.choice(deaths, half, replace=False), rng.choice(survivors, half, replace=False)])
        index = rng.permutation(index)
        return index, cohort.label[index].astype(np.int64)
    size = min(size - size % 2, len(in_group) - len(in_group) % 2)
    index = rng.choice(in_group, size, replace=False)
    labels = rng.permutation(np.repeat([0, 1], size // 2))  # permuted, independent of the features
    return index, labels.astype(np.int64)
