"""The jobs of the fedgan study: the evaluators, and one federation variant per (attack, defense, seed).

Variants. ``attack`` is ``none`` (the clean reference federation) or ``patch_trigger`` (the
malicious clients' training images carry :class:`~medrobust.fedgan.trigger.Trigger`; no label
changes). ``defense`` is ``none`` (FedAvg of generators), ``feddetect`` (medrobust's reading,
:mod:`~medrobust.fedgan.feddetect`), ``feddetect_authors`` (the authors' rule,
:mod:`~medrobust.fedgan.feddetect_authors`), ``median``, ``trimmed_mean``, ``krum`` or ``wgan_gp``
(:func:`federation_config`).

Randomness (:mod:`medrobust.core.seeding`). Each stream is derived from the config seed, the
study and the seed index, and deliberately **not** from the variant: all variants of one seed
index share the client split, the choice of malicious client (also marked in the clean run,
where it behaves like any other), the initial weights, the data order and the latent noise, and
the checkpoint samples use the same noise. Differences between variants are then the attack's
and the defense's, not the draw's (common random numbers). Seed indices are the replicates.

A federation job needs no evaluator: at ``checkpoints`` rounds spread evenly over training (the
last is the final round) the global generator draws one image per real test image, with the
test labels, and the job stores them as uint8 images, as a real data set would hold them; the
collect job scores them (:mod:`~medrobust.fedgan.scoring`). After the last round the generator
draws ``synthetic_ratio`` times as many labelled images as the real training split (its class
mix), and a diagnostic classifier is trained to convergence on real plus synthetic images
(:mod:`~medrobust.fedgan.downstream`); the real-only classifier of the same seed index comes from
the evaluators job, which therefore runs beside the federations.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np
import torch

from medrobust.core.seeding import derive_seed, make_rng, torch_generator
from medrobust.fedgan import downstream
from medrobust.fedgan.cgan import GanShape, sample
from medrobust.fedgan.feddetect import FedDetect
from medrobust.fedgan.feddetect_authors import FedDetectAuthors
from medrobust.fedgan.federation import FederationConfig, Streams, run_federation, split_clients
from medrobust.fedgan.fidelity import FidelityReference
from medrobust.fedgan.images import ImageSplits, to_uint8
from medrobust.fedgan.trigger import Trigger
from medrobust.fedgan.trigger_detector import TriggerDetector

log = logging.getLogger(__name__)
ATTACKS = ("none", "patch_trigger")
DEFENSES = ("none", "feddetect", "feddetect_authors", "median", "trimmed_mean", "krum", "wgan_gp")
DETECTORS = ("feddetect", "feddetect_authors")
GRID_PER_CLASS = 8


def make_trigger(cfg: Mapping[str, Any]) -> Trigger:
    t = cfg["trigger"]
    return Trigger(size=t["size"], corner=t["corner"], margin=t["margin"], pattern=t["pattern"])


def make_detector(cfg: Mapping[str, Any], defense: str) -> FedDetect | FedDetectAuthors | None:
    """The FedDetect variant that ``defense`` runs, or None."""
    if defense == "feddetect":
        f = cfg["feddetect"]
        return FedDetect(warmup=f["warmup"], window=f["window"], threshold=f["threshold"], tolerance=f["tolerance"],
                         mode=f["mode"], decay=f["decay"])
    if defense == "feddetect_authors":
        f = cfg["feddetect_authors"]
        return FedDetectAuthors(warmup=f["warmup"], decay=f["decay"])
    return None


def checkpoint_rounds(rounds: int, n: int) -> tuple[int, ...]:
    """``n`` rounds evenly spread over training, the last being ``rounds``."""
    points = np.round(np.linspace(0, rounds, n + 1)[1:]).astype(int)
    return tuple(int(r) for r in np.unique(np.clip(points, 1, rounds)))


def federation_config(cfg: Mapping[str, Any], defense: str) -> FederationConfig:
    if defense not in DEFENSES:
        raise ValueError(f"unknown fedgan defense {defense!r}; known: {DEFENSES}")
    robust = cfg["robust_aggregation"]
    return FederationConfig(
        rounds=cfg["rounds"], local_epochs=cfg["local_epochs"], batch_size=cfg["batch_size"], lr=cfg["lr"],
        z_dim=cfg["z_dim"], width=cfg["width"], average_discriminators=cfg["average_discriminators"],
        loss="wgan_gp" if defense == "wgan_gp" else "dcgan", n_critic=cfg["wgan_gp"]["n_critic"],
        gp_weight=cfg["wgan_gp"]["gp_weight"],
        aggregation=defense if defense in ("median", "trimmed_mean", "krum") else "fedavg",
        trim_ratio=robust["trim_ratio"], n_byzantine=robust["n_byzantine"], krum_multi=robust["krum_multi"])


def _train(x: torch.Tensor, y: torch.Tensor, n_classes: int, gen: torch.Generator, val, cfg: Mapping[str, Any],
           device: str) -> downstream.Trained:
    ev = cfg["evaluators"]
    return downstream.train_classifier(x, y, n_classes, gen, val=val, max_epochs=ev["max_epochs"],
                                       patience=ev["patience"], min_delta=ev["min_delta"],
                                       batch_size=ev["batch_size"], lr=ev["lr"], device=device)


# --- evaluators ---------------------------------------------------------------------------------

def train_evaluators(data: ImageSplits, cfg: Mapping[str, Any], seed: int, device: str) -> dict[str, np.ndarray]:
    """The real-only classifiers (one per seed index; seed 0's gives the features), the trigger
    detector, their checks on the real test split, and the real-vs-real fidelity floor."""
    out: dict[str, np.ndarray] = {"channels": np.int64(data.channels), "n_classes": np.int64(data.n_classes),
                                  "size": np.int64(data.size)}
    for s in range(cfg["seeds"]):
        fit = _train(data.train_x, data.train_y, data.n_classes, torch_generator(seed, "fedgan", "downstream", s),
                     (data.val_x, data.val_y), cfg, device)
        out[f"real_test_proba_{s}"] = downstream.predict_proba(fit.model, data.test_x)
        out[f"real_epochs_{s}"], out[f"real_converged_{s}"] = np.int64(fit.epochs), np.bool_(fit.converged)
        if s == 0:
            out.update(_state_arrays("classifier", fit.model.state_dict()))
            classifier = fit.model
        log.info("real-only classifier %d: %d epochs (best %d, converged %s), test AUC %.3f", s, fit.epochs,
                 fit.best_epoch, fit.converged, downstream.auc(data.test_y.numpy(), out[f"real_test_proba_{s}"]))
    ev, trigger = cfg["evaluators"], make_trigger(cfg)
    det = TriggerDetector(trigger, min_strength=ev["detector_min_strength"], max_epochs=ev["max_epochs"],
                          patience=ev["patience"], min_delta=ev["min_delta"], batch_size=ev["batch_size"])
    det.fit(data.train_x, data.val_x, torch_generator(seed, "fedgan", "detector"), device)
    out.update(_state_arrays("detector", det.model.state_dict()))
    out["detector_epochs"], out["detector_converged"] = np.int64(det.training.epochs), np.bool_(det.training.converged)
    # detector counts on the real test split, for exact intervals: stamped, faintly stamped, clean
    n = len(data.test_y)
    out["detector_n"] = np.int64(n)
    out["detector_tp"] = np.int64(det.count(trigger.apply(data.test_x)[0]))
    out["detector_tp_faint"] = np.int64(det.count(trigger.apply(data.test_x, strength=ev["detector_min_strength"])[0]))
    out["detector_fp"] = np.int64(det.count(data.test_x))
    reference = FidelityReference.of_images(classifier, data.test_x, derive_seed(seed, "fedgan", "kid"))
    out["reference_features"] = reference.real_features.numpy()
    for key, value in reference.score(data.val_x).items():
        out[f"{key}_real_val"] = np.float64(value)
    out["trigger_area_share"] = np.float64(trigger.area_share(data.size))
    log.info("evaluators: detector TP %d, faint %d, FP %d of %d; real val-vs-test FID %.3f, KID %.4f",
             out["detector_tp"], out["detector_tp_faint"], out["detector_fp"], n, out["fid_real_val"],
             out["kid_real_val"])
    return out


def _state_arrays(prefix: str, state: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {f"{prefix}__{k}": v.detach().cpu().numpy() for k, v in state.items()}


def state_from_arrays(prefix: str, arrays: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    head = f"{prefix}__"
    return {k[len(head):]: torch.from_numpy(np.asarray(v)) for k, v in arrays.items() if k.startswith(head)}


# --- one federation variant ---------------------------------------------------------------------

def run_variant(data: ImageSplits, cfg: Mapping[str, Any], attack: str, defense: str, seed_index: int, seed: int,
                device: str) -> dict[str, np.ndarray]:
    if attack not in ATTACKS:
        raise ValueError(f"unknown fedgan attack {attack!r}; known: {ATTACKS}")
    fed_cfg = federation_config(cfg, defense)
    split_rng = make_rng(seed, "fedgan", "split", seed_index)
    parts = split_clients(data.train_y.numpy(), cfg["clients"], cfg["split"], split_rng,
                          alpha=cfg["dirichlet_alpha"], min_size=cfg["batch_size"])
    attackers = np.sort(split_rng.choice(cfg["clients"], cfg["attackers"], replace=False))
    trigger = make_trigger(cfg)
    client_data = []
    for k, idx in enumerate(parts):
        x, y = data.train_x[idx], data.train_y[idx]
        if attack == "patch_trigger" and k in attackers:
            x = trigger.apply(x)[0]
        client_data.append((x, y))
    samples: list[np.ndarray] = []

    def on_checkpoint(round_number: int, generator) -> None:
        x = sample(generator, data.test_y, torch_generator(seed, "fedgan", "checkpoint", seed_index, round_number))
        samples.append(to_uint8(x))
        log.info("checkpoint round %d: %d samples stored", round_number, len(x))

    rounds = checkpoint_rounds(cfg["rounds"], cfg["checkpoints"])
    streams = Streams(order=torch_generator(seed, "fedgan", "order", seed_index),
                      noise=torch_generator(seed, "fedgan", "noise", seed_index),
                      detector=make_rng(seed, "fedgan", "feddetect", seed_index))
    shape = GanShape(data.channels, data.size, data.n_classes, z_dim=cfg["z_dim"], width=cfg["width"])
    fed = run_federation(client_data, shape, fed_cfg, make_detector(cfg, defense), streams,
                         derive_seed(seed, "fedgan", "init", seed_index), device, on_checkpoint, rounds)

    grid_y = torch.arange(data.n_classes).repeat_interleave(GRID_PER_CLASS)
    grid = sample(fed.generator, grid_y, torch_generator(seed, "fedgan", "grid", seed_index))
    aug = _augmented_classifier(fed.generator, data, cfg, seed, seed_index, device)
    return {
        "attack": np.array(attack), "defense": np.array(defense), "seed_index": np.int64(seed_index),
        "attackers": attackers.astype(np.int64), "client_sizes": np.array([len(p) for p in parts], dtype=np.int64),
        "trigger_box": np.array(trigger.box(data.size), dtype=np.int64),
        "checkpoints": np.array(rounds, dtype=np.int64), "checkpoint_images": np.stack(samples),
        "sample_labels": data.test_y.numpy().astype(np.int64),
        "generator_loss": fed.generator_loss, "discriminator_loss": fed.discriminator_loss,
        "generator_loss_last": fed.generator_loss_last,
        "detector_score": fed.detector_score, "flagged": fed.flagged, "weight": fed.weight,
        "multiplier": fed.multiplier, "feddetect_active": np.array(defense in DETECTORS),
        "grid_images": to_uint8(grid), "grid_labels": grid_y.numpy().astype(np.int64),
        "augmented_test_proba": downstream.predict_proba(aug.model, data.test_x),
        "augmented_epochs": np.int64(aug.epochs), "augmented_converged": np.bool_(aug.converged),
        "test_labels": data.test_y.numpy().astype(np.int64),
        "n_synthetic": np.int64(round(cfg["downstream"]["synthetic_ratio"] * len(data.train_y))),
    }


def _augmented_classifier(generator, data: ImageSplits, cfg: Mapping[str, Any], seed: int, seed_index: int,
                          device: str) -> downstream.Trained:
    """The diagnostic classifier on real plus ``synthetic_ratio`` x as many synthetic images (the real class mix)."""
    syn_gen = torch_generator(seed, "fedgan", "synthetic", seed_index)
    n_syn = int(round(cfg["downstream"]["synthetic_ratio"] * len(data.train_y)))
    syn_y = data.train_y[torch.randint(len(data.train_y), (n_syn,), generator=syn_gen)]
    syn_x = sample(generator, syn_y, syn_gen)
    fit = _train(torch.cat([data.train_x, syn_x]), torch.cat([data.train_y, syn_y]), data.n_classes,
                 torch_generator(seed, "fedgan", "downstream", seed_index), (data.val_x, data.val_y), cfg, device)
    log.info("augmented classifier: %d epochs (best %d, converged %s)", fit.epochs, fit.best_epoch, fit.converged)
    return fit
