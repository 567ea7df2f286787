"""A learned adversarial-example detector: a small CNN trained to tell clean ECGs from PGD ones.

After Metzen et al., "On detecting adversarial perturbations" (ICLR 2017), but on the input
signal rather than on the victim's activations, so it is a plain input check a deployment could
bolt on. ``fit(clean, y)`` crafts PGD examples against the victim from the given clean training
ECGs (each at an eps drawn from ``eps_choices``; PGD only, so SAP is unseen), then trains a
binary :class:`~medrobust.ecg.model.ResNet1d` (``n_classes=2``) on clean vs adversarial for
``epochs`` with Adam. ``score(x)`` is the detector's probability that ``x`` is adversarial.

The question it answers is the study's: does a detector built on square-wave artefacts still see
smoothed perturbations?
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from medrobust.ecg.model import ModelConfig, ResNet1d
from medrobust.ecg.pgd import PGD

log = logging.getLogger(__name__)


@dataclass
class LearnedDetector:
    victim: torch.nn.Module
    eps_choices: tuple = (10.0,)
    step_ratio: float = 0.1
    pgd_steps: int = 20
    model_config: ModelConfig = ModelConfig(n_blocks=2, width=8, stem_stride=1, dropout=0.0, n_classes=2)
    epochs: int = 10
    batch_size: int = 32
    lr: float = 3e-3
    device: str = "cpu"
    detector: ResNet1d | None = field(default=None, init=False)

    def fit(self, clean: torch.Tensor, y: torch.Tensor, mask: torch.Tensor,
            generator: torch.Generator) -> "LearnedDetector":
        clean, y, mask = clean.to(self.device), y.to(self.device), mask.to(self.device)
        choice = torch.randint(len(self.eps_choices), (len(clean),), generator=generator)
        adv = torch.empty_like(clean)
        for i, eps in enumerate(self.eps_choices):
            rows = torch.nonzero(choice == i).to(self.device).flatten()
            if len(rows):
                attack = PGD(self.victim, float(eps), self.step_ratio * float(eps), self.pgd_steps)
                adv[rows] = attack.apply(clean[rows], y[rows], mask[rows])
        x = torch.cat([clean, adv])
        target = torch.cat([torch.zeros(len(clean)), torch.ones(len(adv))]).long().to(self.device)
        self.detector = self._train(x, target, generator)
        return self

    def _train(self, x: torch.Tensor, target: torch.Tensor, generator: torch.Generator) -> ResNet1d:
        model = ResNet1d(self.model_config).to(self.device)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr)
        for epoch in range(self.epochs):
            model.train()
            total = 0.0
            for batch in torch.randperm(len(x), generator=generator).split(self.batch_size):
                if len(batch) < 2:
                    continue
                batch = batch.to(self.device)
                loss = F.cross_entropy(model(x[batch]), target[batch])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(batch)
            log.info("detector epoch %d/%d: loss %.4f", epoch + 1, self.epochs, total / len(x))
        return model.eval()

    @torch.no_grad()
    def score(self, x: torch.Tensor, batch_size: int = 256) -> np.ndarray:
        if self.detector is None:
            raise RuntimeError("LearnedDetector.score called before fit")
        self.detector.eval()
        x = torch.as_tensor(x, dtype=torch.float32)
        out = [F.softmax(self.detector(b.to(self.device)), -1)[:, 1].cpu() for b in x.split(batch_size)]
        return torch.cat(out).numpy() if out else np.zeros(0)
