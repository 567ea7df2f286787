"""Score the samples that the federation jobs stored, with the evaluators (run by the collect job).

Per run and checkpoint: FID and KID against the real test split and precision/recall in the
real-data classifier's feature space (:mod:`~medrobust.fedgan.fidelity`), label agreement (the
classifier gives the sample its conditioning label), and the trigger detector's verdicts
(:mod:`~medrobust.fedgan.trigger_detector`): the share of samples judged to carry the trigger,
and their mean score. For the final checkpoint the trigger verdicts are also kept as counts, in
all and per conditioning class, for exact binomial intervals over the samples inspected.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from medrobust.core.seeding import derive_seed
from medrobust.fedgan import downstream
from medrobust.fedgan.experiment import make_trigger, state_from_arrays
from medrobust.fedgan.fidelity import FidelityReference, label_agreement
from medrobust.fedgan.images import to_tensor
from medrobust.fedgan.trigger_detector import TriggerDetector

CHECKPOINT_METRICS = ("fid", "kid", "precision", "recall", "label_agreement", "trigger_share", "trigger_score")


@dataclass
class Evaluators:
    classifier: downstream.SmallCNN
    detector: TriggerDetector
    reference: FidelityReference


def load_evaluators(arrays: Mapping[str, np.ndarray], cfg: Mapping[str, Any], seed: int,
                    device: str = "cpu") -> Evaluators:
    channels, n_classes = int(arrays["channels"]), int(arrays["n_classes"])
    clf = downstream.SmallCNN(channels, n_classes).to(device)
    clf.load_state_dict(state_from_arrays("classifier", arrays))
    det = TriggerDetector(make_trigger(cfg), min_strength=cfg["evaluators"]["detector_min_strength"])
    det.model = downstream.SmallCNN(channels, 2).to(device)
    det.model.load_state_dict(state_from_arrays("detector", arrays))
    det.model.eval()
    reference = FidelityReference(clf.eval(), arrays["reference_features"], derive_seed(seed, "fedgan", "kid"))
    return Evaluators(clf, det, reference)


def score_run(run: Mapping[str, np.ndarray], ev: Evaluators) -> dict[str, np.ndarray]:
    """Per-checkpoint metrics (arrays over checkpoints) and the final checkpoint's trigger counts."""
    labels = np.asarray(run["sample_labels"])
    values: dict[str, list[float]] = {k: [] for k in CHECKPOINT_METRICS}
    for images in run["checkpoint_images"]:
        x = to_tensor(images[..., 0] if images.shape[-1] == 1 else images)
        scores = ev.detector.score(x)
        for key, value in ev.reference.score(x).items():
            values[key].append(value)
        values["label_agreement"].append(label_agreement(downstream.predict_proba(ev.classifier, x), labels))
        values["trigger_share"].append(float(np.mean(scores > 0.5)))
        values["trigger_score"].append(float(np.mean(scores)))
    carries = scores > 0.5  # the final checkpoint's verdicts
    classes = np.arange(int(ev.classifier.head.out_features))
    return {**{k: np.asarray(v, dtype=float) for k, v in values.items()},
            "trigger_hits": np.int64(carries.sum()), "trigger_inspected": np.int64(len(carries)),
            "trigger_hits_by_class": np.array([int(carries[labels == c].sum()) for c in classes], dtype=np.int64),
            "trigger_inspected_by_class": np.array([int((labels == c).sum()) for c in classes], dtype=np.int64)}
