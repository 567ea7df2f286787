"""The jobs of the fedgan study: the evaluators, and one federation variant per (attack, defense, seed).

Variants. ``attack`` is ``none`` (the clean reference federation) or ``patch_trigger`` (the
malicious clients' training images carry :class:`~medrobust.fedgan.trigger.Trigger`; no label
changes). ``defense`` is ``none`` (FedAvg of generators), ``feddetect``, ``median``,
``trimmed_mean``, ``krum`` or ``wgan_gp`` (:func:`federation_config`).

Randomness (:mod:`medrobust.core.seeding`). Each stream is derived from the config seed, the
study and the seed index, and deliberately **not** from the variant: all variants of one seed
index share the client split, the choice of malicious client (also marked in the clean run,
where it behaves like any other), the initial weights, the data order and the latent noise, and
the checkpoint samples use the same noise. Differences between variants are then the attack's
and the defense's, not the draw's (common random numbers).

Evaluation. At ``checkpoints`` rounds spread over the second half of training (the last is the
final round) the global generator draws one image per real test image, with the test labels,
and is scored against the real test split: classifier Fréchet distance, precision/recall and
label agreement (:mod:`~medrobust.fedgan.fidelity`), and trigger share (share over 0.5) and mean
trigger score (:mod:`~medrobust.fedgan.trigger_detector`). Losses are averaged over the rounds
between checkpoints, so every checkpoint is a window of rounds. After the last round the
generator draws ``synthetic_ratio`` times as many labelled images as the real training split
(its class mix), and a diagnostic classifier is trained on real plus synthetic images
(:mod:`~medrobust.fedgan.downstream`); the real-only classifier of the same seed index comes from
the evaluators job.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np
import torch

from medrobust.core.seeding import derive_seed, make_rng, torch_generator
from medrobust.fedgan import downstream, fidelity
from medrobust.fedgan.cgan import GanShape, sample
from medrobust.fedgan.feddetect import FedDetect
from medrobust.fedgan.federation import FederationConfig, Streams, run_federation, split_clients
from medrobust.fedgan.images import ImageSplits, to_uint8
from medrobust.fedgan.trigger import Trigger
from medrobust.fedgan.trigger_detector import TriggerDetector

log = logging.getLogger(__name__)
ATTACKS = ("none", "patch_trigger")
DEFENSES = ("none", "feddetect", "median", "trimmed_mean", "krum", "wgan_gp")
GRID_PER_CLASS = 8


def make_trigger(cfg: Mapping[str, Any]) -> Trigger:
    t = cfg["trigger"]
    return Trigger(size=t["size"], corner=t["corner"], margin=t["margin"], pattern=t["pattern"])


def make_detector(cfg: Mapping[str, Any]) -> FedDetect:
    f = cfg["feddetect"]
    return FedDetect(warmup=f["warmup"], window=f["window"], threshold=f["threshold"], tolerance=f["tolerance"])


def checkpoint_rounds(rounds: int, n: int) -> tuple[int, ...]:
    """``n`` rounds evenly spread over the second half of training, the last being ``rounds``."""
    points = np.round(np.linspace(rounds / 2, rounds, n + 1)[1:]).astype(int)
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
        trim_ratio=robust["trim_ratio"], n_byzantine=robust["n_byzantine"], krum_multi=robust["krum_multi"],
        defend=defense == "feddetect", feddetect_mode=cfg["feddetect"]["mode"],
        feddetect_decay=cfg["feddetect"]["decay"])


# --- evaluators ---------------------------------------------------------------------------------

def train_evaluators(data: ImageSplits, cfg: Mapping[str, Any], seed: int, device: str) -> dict[str, np.ndarray]:
    """The real-only classifiers (one per seed index; seed 0's is the feature network), the trigger
    detector, and their checks on the real test split."""
    ev = cfg["evaluators"]
    epochs = _epochs(data, cfg)
    out: dict[str, np.ndarray] = {"classifier_epochs": np.int64(epochs)}
    for s in range(cfg["seeds"]):
        clf = downstream.train_classifier(data.train_x, data.train_y, data.n_classes,
                                          torch_generator(seed, "fedgan", "downstream", s), epochs=epochs,
                                          batch_size=ev["batch_size"], lr=ev["lr"], device=device)
        out[f"real_test_proba_{s}"] = downstream.predict_proba(clf, data.test_x)
        if s == 0:
            out.update(_state_arrays("classifier", clf.state_dict()))
            feature_net = clf
    trigger = make_trigger(cfg)
    det = TriggerDetector(trigger, min_strength=ev["detector_min_strength"], epochs=epochs,
                          batch_size=ev["batch_size"]).fit(data.train_x, torch_generator(seed, "fedgan", "detector"),
                                                           device)
    out.update(_state_arrays("detector", det.model.state_dict()))
    stamped = trigger.apply(data.test_x)[0]
    faint = trigger.apply(data.test_x, strength=ev["detector_min_strength"])[0]
    out["detector_tpr"] = np.float64(det.share(stamped))
    out["detector_tpr_faint"] = np.float64(det.share(faint))
    out["detector_fpr"] = np.float64(det.share(data.test_x))
    test_feat = downstream.features(feature_net, data.test_x)
    val_feat = downstream.features(feature_net, data.val_x)
    out["frechet_real_val"] = np.float64(fidelity.frechet_distance(test_feat, val_feat))
    out["precision_real_val"], out["recall_real_val"] = map(np.float64, fidelity.precision_recall(test_feat, val_feat))
    out["trigger_area_share"] = np.float64(trigger.area_share(data.size))
    log.info("evaluators: detector TPR %.3f (faint %.3f), FPR %.3f; real val-vs-test Frechet %.3f",
             out["detector_tpr"], out["detector_tpr_faint"], out["detector_fpr"], out["frechet_real_val"])
    return out


def _epochs(data: ImageSplits, cfg: Mapping[str, Any]) -> int:
    ev = cfg["evaluators"]
    return downstream.classifier_epochs(len(data.train_y), ev["batch_size"], ev["epochs"], ev["min_steps"])


def load_evaluators(arrays: Mapping[str, np.ndarray], data: ImageSplits, cfg: Mapping[str, Any],
                    device: str) -> tuple[downstream.SmallCNN, TriggerDetector]:
    clf = downstream.SmallCNN(data.channels, data.n_classes).to(device)
    clf.load_state_dict(_state_from_arrays("classifier", arrays))
    det = TriggerDetector(make_trigger(cfg), min_strength=cfg["evaluators"]["detector_min_strength"])
    det.model = downstream.SmallCNN(data.channels, 2).to(device)
    det.model.load_state_dict(_state_from_arrays("detector", arrays))
    return clf.eval(), det


def _state_arrays(prefix: str, state: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {f"{prefix}__{k}": v.detach().cpu().numpy() for k, v in state.items()}


def _state_from_arrays(prefix: str, arrays: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    head = f"{prefix}__"
    return {k[len(head):]: torch.from_numpy(np.asarray(v)) for k, v in arrays.items() if k.startswith(head)}


# --- one federation variant ---------------------------------------------------------------------

def run_variant(data: ImageSplits, evaluators: Mapping[str, np.ndarray], cfg: Mapping[str, Any], attack: str,
                defense: str, seed_index: int, seed: int, device: str) -> dict[str, np.ndarray]:
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
    clf, det = load_evaluators(evaluators, data, cfg, device)
    ref_feat = downstream.features(clf, data.test_x)
    test_y = data.test_y
    checks: dict[str, list[float]] = {k: [] for k in ("classifier_frechet_distance", "precision", "recall",
                                                       "label_agreement", "trigger_share", "trigger_score")}

    def on_checkpoint(round_number: int, generator) -> None:
        x = sample(generator, test_y, torch_generator(seed, "fedgan", "checkpoint", seed_index, round_number))
        feat = downstream.features(clf, x)
        precision, recall = fidelity.precision_recall(ref_feat, feat)
        scores = det.score(x)
        values = {"classifier_frechet_distance": fidelity.frechet_distance(ref_feat, feat), "precision": precision,
                  "recall": recall, "label_agreement": fidelity.label_agreement(downstream.predict_proba(clf, x),
                                                                                 test_y.numpy()),
                  "trigger_share": float(np.mean(scores > 0.5)), "trigger_score": float(np.mean(scores))}
        for key, value in values.items():
            checks[key].append(value)
        log.info("checkpoint round %d: %s", round_number, {k: round(v, 4) for k, v in values.items()})

    rounds = checkpoint_rounds(cfg["rounds"], cfg["checkpoints"])
    streams = Streams(order=torch_generator(seed, "fedgan", "order", seed_index),
                      noise=torch_generator(seed, "fedgan", "noise", seed_index),
                      detector=make_rng(seed, "fedgan", "feddetect", seed_index))
    shape = GanShape(data.channels, data.size, data.n_classes, z_dim=cfg["z_dim"], width=cfg["width"])
    fed = run_federation(client_data, shape, fed_cfg, make_detector(cfg), streams,
                         derive_seed(seed, "fedgan", "init", seed_index), device, on_checkpoint, rounds)

    grid_y = torch.arange(data.n_classes).repeat_interleave(GRID_PER_CLASS)
    grid = sample(fed.generator, grid_y, torch_generator(seed, "fedgan", "grid", seed_index))
    syn_gen = torch_generator(seed, "fedgan", "synthetic", seed_index)
    n_syn = int(round(cfg["downstream"]["synthetic_ratio"] * len(data.train_y)))
    syn_y = data.train_y[torch.randint(len(data.train_y), (n_syn,), generator=syn_gen)]
    syn_x = sample(fed.generator, syn_y, syn_gen)
    ev = cfg["evaluators"]
    aug = downstream.train_classifier(torch.cat([data.train_x, syn_x]), torch.cat([data.train_y, syn_y]),
                                      data.n_classes, torch_generator(seed, "fedgan", "downstream", seed_index),
                                      epochs=_epochs(data, cfg), batch_size=ev["batch_size"], lr=ev["lr"],
                                      device=device)
    return {
        "attack": np.array(attack), "defense": np.array(defense), "seed_index": np.int64(seed_index),
        "attackers": attackers.astype(np.int64), "client_sizes": np.array([len(p) for p in parts], dtype=np.int64),
        "trigger_box": np.array(trigger.box(data.size), dtype=np.int64),
        "checkpoints": np.array(rounds, dtype=np.int64),
        **{k: np.array(v, dtype=np.float64) for k, v in checks.items()},
        "generator_loss": fed.generator_loss, "discriminator_loss": fed.discriminator_loss,
        "detector_score": fed.detector_score, "flagged": fed.flagged, "weight": fed.weight,
        "multiplier": fed.multiplier, "feddetect_active": np.array(fed_cfg.defend),
        "grid_images": to_uint8(grid), "grid_labels": grid_y.numpy().astype(np.int64),
        **_state_arrays("generator", fed.generator.state_dict()),
        "augmented_test_proba": downstream.predict_proba(aug, data.test_x),
        "test_labels": test_y.numpy().astype(np.int64), "n_synthetic": np.int64(n_syn),
    }
