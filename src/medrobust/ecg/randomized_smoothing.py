"""Gaussian-noise augmentation with randomized smoothing (Cohen, Rosenfeld & Kolter, "Certified
adversarial robustness via randomized smoothing", ICML 2019).

``RandomizedSmoothing(sigma).apply(model, data)`` fine-tunes a copy of the victim on training
crops with i.i.d. N(0, sigma^2) noise added to every sample (the base classifier f), and returns
the smoothed classifier g(x) = argmax_c P(f(x + noise) = c). ``certify`` is Cohen's CERTIFY:
``n0`` noisy draws pick the class, ``n`` more give a one-sided Clopper-Pearson lower bound pA on
its probability at level 1 - alpha; g is certified at L2 radius ``sigma * Phi^-1(pA)`` (abstain
when pA <= 1/2). ``predict`` is Cohen's PREDICT (abstain when a two-sided binomial test of the top
two counts gives p > alpha).

sigma is in raw ADC units like the attacks' eps. The certificate is an L2 one; an L-infinity
perturbation of size eps over L samples can have L2 norm up to eps * sqrt(L), so the study reports
certified accuracy at both radius eps and radius eps * sqrt(L) (the ball that contains the
L-infinity one). With n draws the largest certifiable radius is sigma * Phi^-1(alpha^(1/n)).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from medrobust.data.challenge2017 import EcgSet
from medrobust.ecg.train import TrainConfig, train_classifier

ABSTAIN = -1


@dataclass
class SmoothedClassifier:
    base: torch.nn.Module
    sigma: float
    batch_size: int = 512

    @torch.no_grad()
    def counts(self, x: torch.Tensor, num: int, generator: torch.Generator) -> np.ndarray:
        """(n, n_classes) how often f(x + noise) gives each class in ``num`` draws per ECG."""
        self.base.eval()
        n_classes = self.base.config.n_classes
        out = np.zeros((len(x), n_classes), dtype=np.int64)
        per_batch = max(1, self.batch_size // max(num, 1))
        for start in range(0, len(x), per_batch):
            xb = x[start:start + per_batch]
            rep = xb.repeat_interleave(num, dim=0)
            for chunk_start in range(0, len(rep), self.batch_size):
                chunk = rep[chunk_start:chunk_start + self.batch_size]
                noise = torch.randn(chunk.shape, generator=generator).to(chunk.device) * self.sigma
                pred = self.base(chunk + noise).argmax(-1).cpu().numpy()
                owner = (np.arange(chunk_start, chunk_start + len(chunk)) // num)
                np.add.at(out[start:start + len(xb)], (owner, pred), 1)
        return out

    def predict(self, x: torch.Tensor, num: int, alpha: float, generator: torch.Generator) -> np.ndarray:
        counts = self.counts(x, num, generator)
        top2 = np.argsort(-counts, axis=1, kind="stable")[:, :2]
        out = np.full(len(x), ABSTAIN, dtype=np.int64)
        for i, (a, b) in enumerate(top2):
            na, nb = int(counts[i, a]), int(counts[i, b])
            if na + nb and stats.binomtest(na, na + nb, 0.5).pvalue <= alpha:
                out[i] = a
        return out

    def certify(self, x: torch.Tensor, n0: int, num: int, alpha: float,
                generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(prediction or ABSTAIN, certified L2 radius; 0 where abstaining)."""
        guess = self.counts(x, n0, generator).argmax(axis=1)
        counts = self.counts(x, num, generator)
        n_a = counts[np.arange(len(x)), guess]
        p_lower = np.where(n_a > 0, stats.beta.ppf(alpha, np.maximum(n_a, 1), num - n_a + 1), 0.0)
        certified = p_lower > 0.5
        radius = np.where(certified, self.sigma * stats.norm.ppf(np.clip(p_lower, 0.5, 1 - 1e-16)), 0.0)
        return np.where(certified, guess, ABSTAIN), radius


def max_radius(sigma: float, num: int, alpha: float) -> float:
    """The largest radius CERTIFY can give with ``num`` draws (every draw agreeing)."""
    return float(sigma * stats.norm.ppf(alpha ** (1.0 / num)))


@dataclass
class RandomizedSmoothing:
    sigma: float = 10.0
    config: TrainConfig = TrainConfig(epochs=1, lr=1e-3)

    def apply(self, model: torch.nn.Module, data: tuple[EcgSet, int], rng: np.random.Generator,
              generator: torch.Generator, device: str = "cpu") -> SmoothedClassifier:
        """``data`` = (training records, crop length). Returns the smoothed noise-trained copy."""
        train, crop = data
        noise_gen = torch.Generator().manual_seed(int(rng.integers(2**31)))

        def add_noise(_model, x, _y, _mask):
            return x + torch.randn(x.shape, generator=noise_gen).to(x.device) * self.sigma

        base = train_classifier(train, crop, model.config, self.config, rng, generator, device,
                                augment=add_noise, init=model)
        return SmoothedClassifier(base, self.sigma)
