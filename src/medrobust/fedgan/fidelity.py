"""Fidelity of synthetic images: FID and KID in a medical feature space, precision/recall, label agreement.

FID (Heusel et al., NeurIPS 2017) is the Fréchet distance between Gaussians fitted to the
features of real and of synthetic images; KID (Bińkowski et al., ICLR 2018) is the unbiased
estimate of the squared maximum mean discrepancy between them under the cubic polynomial kernel
``k(a, b) = (a.b / d + 1) ** 3``, which unlike FID has no bias at small sample sizes. Both are
computed by torchmetrics (``FrechetInceptionDistance`` and ``KernelInceptionDistance``) with a
custom feature module instead of Inception-v3: ImageNet features suit 28 px X-rays poorly, and
the Inception weights cannot be fetched here. The features are the 64 penultimate activations
of :class:`medrobust.fedgan.downstream.SmallCNN` trained to convergence on the real training
split (:class:`ClassifierFeatures`). The values are comparable between the variants of this
study, and with the real-vs-real floor (validation against test images), not with published
Inception FIDs. Such features serve the diagnosis; they may ignore a corner patch, which is why
the trigger is counted by its own detector (:mod:`medrobust.fedgan.trigger_detector`).

* :class:`FidelityReference` holds the real test images' features and scores synthetic images:
  FID, KID (mean over ``kid_subsets`` random subsets of equal size, drawn from a seeded
  generator), improved precision and recall (Kynkäänniemi et al., NeurIPS 2019; k = 3: precision
  is the share of synthetic images inside the real manifold, the union of balls around each real
  feature vector reaching its k-th nearest real neighbour; recall the converse).
* :func:`label_agreement`: the share of synthetic images that the real-data classifier assigns to
  the class they were generated for: recognisable images of the intended class.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from medrobust.fedgan.downstream import SmallCNN

KID_SUBSETS = 20
KID_SUBSET_SIZE = 1000
CHUNK = 256


class ClassifierFeatures(nn.Module):
    """The classifier's penultimate layer as torchmetrics' custom feature extractor."""

    def __init__(self, classifier: SmallCNN):
        super().__init__()
        self.classifier = classifier.eval()
        self.num_features = int(classifier.head.in_features)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        device = next(self.classifier.parameters()).device
        return self.classifier.features(x.to(device)).cpu()


class FidelityReference:
    """The real reference set's features, against which synthetic images are scored."""

    def __init__(self, classifier: SmallCNN, real_features: torch.Tensor | np.ndarray, seed: int):
        self.extractor = ClassifierFeatures(classifier)
        self.real_features = torch.as_tensor(np.asarray(real_features, dtype=np.float64))
        self.seed = seed

    @classmethod
    def of_images(cls, classifier: SmallCNN, real: torch.Tensor, seed: int) -> "FidelityReference":
        return cls(classifier, _features(ClassifierFeatures(classifier), real), seed)

    def score(self, fake: torch.Tensor) -> dict[str, float]:
        fake_features = _features(self.extractor, fake)
        precision, recall = precision_recall(self.real_features.numpy(), fake_features.numpy())
        return {"fid": fid(self.real_features, fake_features),
                "kid": kid(self.real_features, fake_features, self.seed),
                "precision": precision, "recall": recall}


def _features(extractor: ClassifierFeatures, x: torch.Tensor) -> torch.Tensor:
    return torch.cat([extractor(x[i:i + CHUNK]) for i in range(0, len(x), CHUNK)]).double()


class _Given(nn.Module):
    """Feeds features already extracted (once per reference set) into torchmetrics."""

    def __init__(self, n_features: int):
        super().__init__()
        self.num_features = n_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def fid(real_features: torch.Tensor, fake_features: torch.Tensor) -> float:
    metric = FrechetInceptionDistance(feature=_Given(real_features.shape[1]))
    metric.update(real_features, real=True)
    metric.update(fake_features, real=False)
    return float(metric.compute())


def kid(real_features: torch.Tensor, fake_features: torch.Tensor, seed: int, subsets: int = KID_SUBSETS,
        subset_size: int = KID_SUBSET_SIZE) -> float:
    """Mean unbiased MMD^2 (cubic kernel) over random equal-size subsets; the subsets come from ``seed``."""
    size = min(subset_size, len(real_features), len(fake_features))
    with warnings.catch_warnings():  # it warns that it keeps every feature vector: a few thousand 64-d ones here
        warnings.filterwarnings("ignore", message="Metric `Kernel Inception Distance` will save")
        metric = KernelInceptionDistance(feature=_Given(real_features.shape[1]), subsets=subsets, subset_size=size)
    metric.update(real_features, real=True)
    metric.update(fake_features, real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, _ = metric.compute()
    return float(mean)


def _kth_neighbour_radius(feat: np.ndarray, k: int) -> np.ndarray:
    d = _distances(feat, feat)
    return np.sort(d, axis=1)[:, k]  # column 0 is the point itself


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))


def manifold_coverage(reference: np.ndarray, query: np.ndarray, k: int = 3) -> float:
    """Share of ``query`` points within the k-NN ball of at least one ``reference`` point."""
    radii = _kth_neighbour_radius(reference, k)
    return float(np.mean((_distances(query, reference) <= radii[None, :]).any(axis=1)))


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    return manifold_coverage(real, fake, k), manifold_coverage(fake, real, k)


def label_agreement(proba: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.asarray(proba).argmax(axis=1) == np.asarray(labels)))
