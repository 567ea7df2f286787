"""Training-set sanitisation by activation clustering (Chen et al., "Detecting Backdoor Attacks on
Deep Neural Networks by Activation Clustering", SafeAI@AAAI 2019), via ART's ``ActivationDefence``.

Per training label, the victim's penultimate activations are reduced (PCA, ``nb_dims``) and split
into two clusters by k-means; the smaller cluster is flagged as poison (ART's ``"smaller"``
analysis). The flagged stays are removed and the victim is retrained on the rest.

Why ART is given an identity classifier: ART's ``PyTorchClassifier`` reads activations from the
*last top-level child module* of the model it wraps (``layer_names[-1]``), which for our modules
is the output layer, and cannot reach a layer inside the non-Sequential LSTM/GRU modules. We
therefore compute the penultimate activations ourselves (:func:`medrobust.ehr.models.penultimate`;
for LR, which has no hidden layer, its input features) and hand ART a ``PyTorchClassifier`` around
``nn.Sequential(nn.Identity())`` whose "activations" are exactly those arrays. ART then does its
own reduction, clustering and cluster analysis unchanged.
"""
from __future__ import annotations

import numpy as np


def identity_classifier(n_features: int):
    """An ART classifier whose only layer returns its input (see module docstring)."""
    from art.estimators.classification import PyTorchClassifier
    from torch import nn

    return PyTorchClassifier(model=nn.Sequential(nn.Identity()), loss=nn.CrossEntropyLoss(),
                             input_shape=(n_features,), nb_classes=2)


def detect(activations: np.ndarray, labels: np.ndarray, nb_dims: int = 10, nb_clusters: int = 2,
           seed: int = 0) -> np.ndarray:
    """Boolean 'flagged as poison' per training stay."""
    from art.defences.detector.poison import ActivationDefence

    np.random.seed(seed % 2**32)  # ART's MiniBatchKMeans/PCA draw from the global NumPy state
    acts = np.ascontiguousarray(activations, dtype=np.float32)
    defence = ActivationDefence(identity_classifier(acts.shape[1]), acts, np.eye(2)[labels])
    _, is_clean = defence.detect_poison(nb_clusters=nb_clusters, nb_dims=min(nb_dims, acts.shape[1]),
                                        reduce="PCA", cluster_analysis="smaller")
    return np.asarray(is_clean) == 0
