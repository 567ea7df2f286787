"""The ecg study's jobs, one function per rule: train, attack, and one per defense (the split is
:func:`medrobust.ecg.split.run_prepare`, metrics and claims :mod:`medrobust.ecg.collect`).

Data flow (every array is written by the rule script through :mod:`medrobust.core.io`):

* ``prepare``: the seeded stratified 90/10 split and the test matrix fitted to the crop length.
* ``train``: the victim (:func:`~medrobust.ecg.model.build_model`, ``ecg.model.architecture``) on
  random crops of the training records; its softmax on the whole test set.
* ``attack``: a seeded, class-stratified draw of ``n_attack`` test ECGs among those the victim
  classifies correctly ("known-correct"); for every eps PGD and SAP started from that PGD
  perturbation; the perturbations, predictions, probabilities and throughputs (examples x
  iterations / s). At the headline eps also ART's PGD (the cross-check), a random-sign
  perturbation of the same size (the control: what a perturbation of that size does without the
  gradient), a second SAP from a random start (the second known example the band and splice
  techniques need), the three "new examples" techniques, and targeted PGD/SAP when configured.
* ``defense``: one of ``preprocessing``, ``detectors``, ``adversarial_training``,
  ``randomized_smoothing`` (see each function).

Every random draw comes from ``derive_seed(seed, "ecg", <job>, ...)``.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import torch

from medrobust.core.seeding import make_rng, torch_generator
from medrobust.data.challenge2017 import EcgSet
from medrobust.ecg import new_examples
from medrobust.ecg.adversarial_training import AdversarialTraining
from medrobust.ecg.art_pgd import ArtPGD
from medrobust.ecg.hf_energy import HighFrequencyEnergy
from medrobust.ecg.learned_detector import LearnedDetector
from medrobust.ecg.model import ModelConfig
from medrobust.ecg.pgd import PGD
from medrobust.ecg.preprocessing import LowpassFilter, MedianFilter
from medrobust.ecg.randomized_smoothing import RandomizedSmoothing
from medrobust.ecg.sap import SAP
from medrobust.ecg.split import (CLASSES, Prepared, class_ids, fit_length, left_align, stratified_draw,
                                 subset, valid_mask)
from medrobust.ecg.train import predict_proba, train_classifier, train_config

log = logging.getLogger(__name__)
DEFENSES = ("preprocessing", "detectors", "adversarial_training", "randomized_smoothing")
Model = torch.nn.Module


def model_config(cfg: dict) -> ModelConfig:
    return ModelConfig(**cfg["model"])


def victim_train_config(cfg: dict, **overrides):
    return train_config({**cfg["train"], **overrides}, cfg["padding"])


# ------------------------------------------------------------------------------------ train

def run_train(ecgset: EcgSet, prepared: Prepared, cfg: dict, seed: int, device: str) -> tuple[Model, dict]:
    train = subset(ecgset, prepared.train_idx)
    start = time.perf_counter()
    model = train_classifier(train, prepared.crop, model_config(cfg), victim_train_config(cfg),
                             make_rng(seed, "ecg", "train", "crops"),
                             torch_generator(seed, "ecg", "train", "order"), device)
    seconds = time.perf_counter() - start
    prob = predict_proba(model, prepared.x_test, device=device)
    acc = float(np.mean(prob.argmax(1) == prepared.y_test))
    log.info("victim trained in %.0f s; test accuracy %.3f", seconds, acc)
    return model, {"prob_test": prob.astype(np.float32), "train_seconds": np.array(seconds)}


# ------------------------------------------------------------------------------------ attack

def _tensors(prepared: Prepared, pos: np.ndarray, device: str):
    """x, y and the valid-sample mask of the test ECGs at ``pos``, on ``device``."""
    return (torch.from_numpy(prepared.x_test[pos]).to(device), torch.from_numpy(prepared.y_test[pos]).to(device),
            torch.from_numpy(prepared.mask(pos)).to(device))


def _attack_inputs(prepared: Prepared, model: Model, n: int, rng: np.random.Generator, device: str):
    """The attacked ECGs: a class-stratified draw of ``n`` test ECGs that ``model`` classifies
    correctly; their positions, x, y and mask (tensors on ``device``)."""
    correct = predict_proba(model, prepared.x_test, device=device).argmax(1) == prepared.y_test
    pos = stratified_draw(prepared.y_test, n, rng, eligible=correct)
    return (pos, *_tensors(prepared, pos, device))


def _predict(model, x: torch.Tensor, device: str) -> np.ndarray:
    return predict_proba(model, x, device=device)


def _pgd_and_sap(model, eps: float, cfg: dict, **kwargs) -> tuple[PGD, SAP]:
    """The configured PGD and SAP at ``eps`` (step = step_ratio * eps)."""
    att = cfg["attacks"]
    step = att["step_ratio"] * eps
    pgd = PGD(model, eps, step, att["pgd_steps"], batch_size=att["batch_size"], **kwargs)
    sap = SAP(model, eps, step, att["pgd_steps"], att["sap_steps"], tuple(att["sap_sizes"]),
              tuple(float(s) for s in att["sap_sigmas"]), batch_size=att["batch_size"], **kwargs)
    return pgd, sap


def _attack_both(model, x, y, mask, eps: float, cfg: dict, device: str) -> dict[str, np.ndarray]:
    """Softmax of ``model`` on PGD and on SAP (from that PGD) examples at ``eps``."""
    pgd, sap = _pgd_and_sap(model, eps, cfg)
    d_pgd = pgd.perturbation(x, y, mask)
    d_sap = sap.perturbation(x, y, mask, start=d_pgd)
    return {"pgd": _predict(model, x + d_pgd, device), "sap": _predict(model, x + d_sap, device)}


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def run_attacks(prepared: Prepared, victim: Model, cfg: dict, seed: int, device: str) -> dict[str, np.ndarray]:
    att = cfg["attacks"]
    headline = float(cfg["headline_setting"]["eps"])
    eps_list = [float(e) for e in att["eps"]]
    if headline not in eps_list:
        raise ValueError(f"config key 'ecg.headline_setting.eps' = {headline:g} must be one of "
                         f"'ecg.attacks.eps' {att['eps']}")
    pos, x, y, mask = _attack_inputs(prepared, victim, cfg["n_attack"], make_rng(seed, "ecg", "attack", "draw"),
                                     device)
    n = len(pos)
    log.info("attacking %d known-correct test ECGs (per class %s), eps %s", n,
             dict(zip(CLASSES, np.bincount(prepared.y_test[pos], minlength=len(CLASSES)).tolist())), eps_list)
    out = {"pos": pos, "eps": np.array(eps_list), "prob_clean": _predict(victim, x, device)}
    shape = (len(eps_list), n, prepared.crop)
    out["delta_pgd"], out["delta_sap"] = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    for key in ("prob_pgd", "prob_sap"):
        out[key] = np.zeros((len(eps_list), n, len(CLASSES)), np.float32)
    out["throughput"] = np.full((len(eps_list), 3), np.nan)  # pgd, sap, art: examples x iterations / s
    for i, eps in enumerate(eps_list):
        pgd, sap = _pgd_and_sap(victim, eps, cfg)
        d_pgd, t_pgd = _timed(pgd.perturbation, x, y, mask)
        d_sap, t_sap = _timed(sap.perturbation, x, y, mask, start=d_pgd)
        out["delta_pgd"][i], out["delta_sap"][i] = d_pgd.cpu().numpy(), d_sap.cpu().numpy()
        out["prob_pgd"][i], out["prob_sap"][i] = _predict(victim, x + d_pgd, device), _predict(victim, x + d_sap, device)
        out["throughput"][i, :2] = [n * att["pgd_steps"] / max(t_pgd, 1e-9), n * att["sap_steps"] / max(t_sap, 1e-9)]
        log.info("eps %g: ASR pgd %.3f sap %.3f; %.0f / %.0f example-iterations/s", eps,
                 _flip_rate(out["prob_pgd"][i], y), _flip_rate(out["prob_sap"][i], y), *out["throughput"][i, :2])
    i = eps_list.index(headline)
    if att["art_check"] and n:
        out.update(_art_check(victim, x, y, mask, headline, cfg, device))
        out["throughput"][i, 2] = n * att["pgd_steps"] / float(out["art_seconds"])
    out["pred_random_sign"] = _random_sign(victim, x, mask, headline, torch_generator(seed, "ecg", "random_sign"),
                                           device)
    out.update(_new_examples(victim, x, y, mask, prepared.test_start[pos], prepared.test_length[pos], out, i,
                             headline, cfg, seed, device))
    if att["targeted"]["enabled"]:
        out.update(_targeted(victim, x, y, mask, headline, cfg, device))
    return out


def _art_check(victim, x, y, mask, eps: float, cfg: dict, device: str) -> dict[str, np.ndarray]:
    """ART's PGD with our PGD's settings, at the headline eps only: a cross-check of the
    implementation (it cannot fail for a reason the paper is about), so one eps is enough."""
    att = cfg["attacks"]
    art = ArtPGD(victim, eps, att["step_ratio"] * eps, att["pgd_steps"], att["batch_size"], device)
    x_art, seconds = _timed(art.apply, x.cpu().numpy(), y.cpu().numpy(), mask.cpu().numpy())
    return {"art_eps": np.array(eps), "art_seconds": np.array(seconds),
            "pred_art": _predict(victim, torch.from_numpy(x_art).to(device), device).argmax(1)}


def _random_sign(victim, x, mask, eps: float, generator: torch.Generator, device: str) -> np.ndarray:
    """Predictions on x + eps * (random signs): a perturbation as large as PGD's, without the gradient."""
    signs = torch.randint(0, 2, x.shape, generator=generator).to(x.device) * 2.0 - 1.0
    return _predict(victim, x + eps * signs * mask, device).argmax(1)


def _flip_rate(prob: np.ndarray, y: torch.Tensor) -> float:
    return float(np.mean(prob.argmax(1) != y.cpu().numpy())) if len(prob) else float("nan")


def _new_examples(victim, x, y, mask, start, length, out, i, eps, cfg, seed, device) -> dict[str, np.ndarray]:
    """A second SAP from a random start, then k candidates per technique per known example."""
    att, ne = cfg["attacks"], cfg["new_examples"]
    if not ne["enabled"] or len(x) == 0:
        return {}
    gen = torch_generator(seed, "ecg", "new_examples")
    _, sap = _pgd_and_sap(victim, eps, cfg, random_start=True)
    a = torch.from_numpy(out["delta_sap"][i]).to(device)
    b = sap.perturbation(x, y, mask, generator=gen)
    pred_b = _predict(victim, x + b, device).argmax(1)
    k, kernel = int(ne["per_example"]), sap.kernel
    candidates = {
        "noise_resmooth": new_examples.noise_resmooth(a, k, eps, kernel, mask, gen, ne["noise_ratio"]),
        "band": new_examples.band(a, b, k, kernel, mask, gen),
        "splice": new_examples.splice(a, b, k, torch.from_numpy(length), gen, torch.from_numpy(start)),
    }
    n_valid = mask.sum(dim=1).clamp_min(1)
    result = {"new_k": np.array(k), "new_eps": np.array(eps), "pred_sap_random_start": pred_b,
              "delta_sap_random_start": b.cpu().numpy(),
              "pair_correlation": new_examples.correlation(a, b, mask).cpu().numpy()}
    for name, cand in candidates.items():
        result[f"new_{name}"] = new_examples.count_adversarial(victim, x, y, cand).cpu().numpy()
        # How far the new examples are from the known one: mean |difference| per recorded sample.
        result[f"new_{name}_distance"] = ((cand - a[:, None, :]).abs().sum(dim=2) / n_valid[:, None]).mean(dim=1).cpu().numpy()
    return result


def _targeted(victim, x, y, mask, eps, cfg, device) -> dict[str, np.ndarray]:
    att = cfg["attacks"]
    target = CLASSES.index(att["targeted"]["target"])
    rows = torch.nonzero(y != target).flatten()
    t = torch.full((len(rows),), target, dtype=torch.long, device=device)
    pgd, sap = _pgd_and_sap(victim, eps, cfg, targeted=True)
    d_pgd = pgd.perturbation(x[rows], t, mask[rows])
    d_sap = sap.perturbation(x[rows], t, mask[rows], start=d_pgd)
    return {"targeted_rows": rows.cpu().numpy(), "targeted_class": np.array(target),
            "targeted_pred_pgd": _predict(victim, x[rows] + d_pgd, device).argmax(1),
            "targeted_pred_sap": _predict(victim, x[rows] + d_sap, device).argmax(1)}


# ------------------------------------------------------------------------------------ defenses

def run_defense(name: str, ecgset: EcgSet, prepared: Prepared, victim: Model, attacks: dict,
                cfg: dict, seed: int, device: str) -> dict[str, np.ndarray]:
    jobs = {"preprocessing": _preprocessing, "detectors": _detectors,
            "adversarial_training": _adversarial_training, "randomized_smoothing": _randomized_smoothing}
    if name not in jobs:
        raise ValueError(f"unknown ecg defense {name!r}; expected one of {DEFENSES}")
    start = time.perf_counter()
    out = jobs[name](ecgset, prepared, victim, attacks, cfg, seed, device)
    out["seconds"] = np.array(time.perf_counter() - start)
    return out


def _adversarial_stack(attacks: dict, prepared: Prepared, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The victim's known-correct ECGs and their labels, as tensors."""
    pos = attacks["pos"]
    return (torch.from_numpy(prepared.x_test[pos]).to(device), torch.from_numpy(prepared.y_test[pos]).to(device))


def _preprocessing(ecgset, prepared, victim, attacks, cfg, seed, device) -> dict[str, np.ndarray]:
    """Each filter in front of the unchanged victim: its clean test predictions, and its predictions
    on the adversarial ECGs crafted against the undefended victim (the defender's filter is
    unknown to that attacker). With ``adaptive``, PGD and SAP are also run through the filter
    (white-box) at the eps listed in ``adaptive_eps``."""
    pcfg = cfg["defenses"]["preprocessing"]
    fs = int(ecgset.fs)
    filters = {"lowpass": LowpassFilter(fs, pcfg["lowpass"]["cutoff_hz"], pcfg["lowpass"]["numtaps"],
                                        pcfg["lowpass"]["low_hz"]),
               "median": MedianFilter(pcfg["median"]["size"])}
    x, y = _adversarial_stack(attacks, prepared, device)
    out: dict[str, np.ndarray] = {"filters": np.array(list(filters))}
    for name, filt in filters.items():
        model = filt.apply(victim).to(device)
        out[f"{name}_prob_test"] = predict_proba(model, prepared.x_test, device=device)
        out[f"{name}_prob_clean"] = _predict(model, x, device)
        for kind in ("pgd", "sap"):
            delta = torch.from_numpy(attacks[f"delta_{kind}"]).to(device)
            out[f"{name}_prob_{kind}"] = np.stack([_predict(model, x + d, device) for d in delta]) \
                if len(delta) else np.zeros((0, len(x), len(CLASSES)), np.float32)
        if pcfg["adaptive"]:
            out.update(_adaptive(name, model, x, y, attacks, prepared, cfg, device))
    return out


def _adaptive(name, model, x, y, attacks, prepared, cfg, device) -> dict[str, np.ndarray]:
    mask = torch.from_numpy(prepared.mask(attacks["pos"])).to(device)
    eps_list = [float(e) for e in cfg["defenses"]["preprocessing"]["adaptive_eps"]]
    runs = [_attack_both(model, x, y, mask, eps, cfg, device) for eps in eps_list]
    return {f"{name}_adaptive_eps": np.array(eps_list),
            **{f"{name}_adaptive_prob_{k}": _stack([r[k] for r in runs], len(x)) for k in ("pgd", "sap")}}


def _detector_fit_set(ecgset, prepared, n: int, seed: int, purpose: str, padding: str):
    """``n`` training records (a seeded draw), fitted to the crop like the test set: x, y, start, length."""
    rng = make_rng(seed, "ecg", "detectors", purpose)
    idx = np.sort(rng.choice(prepared.train_idx, size=min(n, len(prepared.train_idx)), replace=False))
    x, start, length = fit_length(ecgset, prepared.crop, padding, idx=idx)
    return x, class_ids(ecgset.label[idx]), start, length


def _detectors(ecgset, prepared, victim, attacks, cfg, seed, device) -> dict[str, np.ndarray]:
    """Scores of the high-frequency-energy check and the learned (PGD-trained) detector on the
    known-correct clean ECGs and on every PGD and SAP example, and on a clean calibration set of
    training records (whose 95th percentile is the 5 % FPR threshold)."""
    dcfg, padding = cfg["defenses"]["detectors"], cfg["padding"]
    x_fit, y_fit, start_fit, len_fit = _detector_fit_set(ecgset, prepared, dcfg["n_fit"], seed, "fit", padding)
    x_cal, _, start_cal, len_cal = _detector_fit_set(ecgset, prepared, dcfg["n_calibration"], seed, "calibration",
                                                     padding)
    x, _ = _adversarial_stack(attacks, prepared, device)
    start, length = prepared.test_start[attacks["pos"]], prepared.test_length[attacks["pos"]]
    x_np = x.cpu().numpy()
    adversarial = {kind: x_np[None] + attacks[f"delta_{kind}"] for kind in ("pgd", "sap")}
    out: dict[str, np.ndarray] = {"detectors": np.array(["hf_energy", "learned_detector"])}

    # The spectral check reads each record's own samples: left-aligned, its first `length` ones.
    hf = HighFrequencyEnergy(float(ecgset.fs), dcfg["hf_cutoff_hz"]).fit(left_align(x_fit, start_fit), len_fit)
    out["hf_energy_calibration"] = hf.score(left_align(x_cal, start_cal), len_cal)
    out["hf_energy_clean"] = hf.score(left_align(x_np, start), length)
    for kind, adv in adversarial.items():
        out[f"hf_energy_{kind}"] = np.stack([hf.score(left_align(a, start), length) for a in adv]) \
            if len(adv) else np.zeros((0, len(x_np)))

    att = cfg["attacks"]
    detector = LearnedDetector(
        victim, tuple(float(e) for e in dcfg["learned_eps"]), att["step_ratio"], att["pgd_steps"],
        ModelConfig(n_blocks=dcfg["n_blocks"], width=dcfg["width"], kernel_size=cfg["model"]["kernel_size"],
                    stem_stride=dcfg["stem_stride"], dropout=0.0, n_classes=2),
        epochs=dcfg["epochs"], device=device)
    gen = torch_generator(seed, "ecg", "detectors", "learned")
    detector.fit(torch.from_numpy(x_fit).to(device), torch.from_numpy(y_fit).to(device),
                 torch.from_numpy(valid_mask(len_fit, prepared.crop, start_fit)).to(device), gen)
    out["learned_detector_calibration"] = detector.score(torch.from_numpy(x_cal))
    out["learned_detector_clean"] = detector.score(x)
    for kind, adv in adversarial.items():
        out[f"learned_detector_{kind}"] = np.stack([detector.score(torch.from_numpy(a)) for a in adv]) \
            if len(adv) else np.zeros((0, len(x_np)))
    return out


def _adversarial_training(ecgset, prepared, victim, attacks, cfg, seed, device) -> dict[str, np.ndarray]:
    """Fine-tune the victim adversarially, then attack the new model white-box (PGD and SAP at
    ``eval_eps``) on a stratified draw of ``n_attack`` test ECGs it classifies correctly."""
    acfg = cfg["defenses"]["adversarial_training"]
    tcfg = victim_train_config(cfg, epochs=acfg["epochs"], lr=acfg["lr"])
    mitigation = AdversarialTraining(float(acfg["eps"]), acfg["steps"], acfg["attack"],
                                     acfg["adversarial_share"], tcfg)
    model = mitigation.apply(victim, (subset(ecgset, prepared.train_idx), prepared.crop),
                             make_rng(seed, "ecg", "adversarial_training", "crops"),
                             torch_generator(seed, "ecg", "adversarial_training", "order"), device)
    return _white_box(model, prepared, cfg, acfg["eval_eps"], make_rng(seed, "ecg", "adversarial_training", "draw"),
                      device)


def _white_box(model, prepared, cfg, eps_list, rng, device) -> dict[str, np.ndarray]:
    pos, x, y, mask = _attack_inputs(prepared, model, cfg["n_attack"], rng, device)
    eps_list = [float(e) for e in eps_list]
    runs = [_attack_both(model, x, y, mask, eps, cfg, device) for eps in eps_list]
    return {"prob_test": predict_proba(model, prepared.x_test, device=device), "pos": pos,
            "eps": np.array(eps_list), **{f"prob_{k}": _stack([r[k] for r in runs], len(pos)) for k in ("pgd", "sap")}}


def _stack(arrays: list[np.ndarray], n: int) -> np.ndarray:
    return np.stack(arrays) if arrays else np.zeros((0, n, len(CLASSES)), np.float32)


def _randomized_smoothing(ecgset, prepared, victim, attacks, cfg, seed, device) -> dict[str, np.ndarray]:
    """Fine-tune with Gaussian noise, then: the base model's clean test predictions; CERTIFY on a
    class-stratified draw of ``n_certify`` test ECGs (right or wrong: certified accuracy is a share
    of the test set); PGD and SAP white-box against the base model at ``attack_eps`` on the same
    ECGs, classified by the smoothed model's PREDICT (abstentions count as unflipped)."""
    rcfg = cfg["defenses"]["randomized_smoothing"]
    tcfg = victim_train_config(cfg, epochs=rcfg["epochs"], lr=rcfg["lr"])
    smoothed = RandomizedSmoothing(float(rcfg["sigma"]), tcfg).apply(
        victim, (subset(ecgset, prepared.train_idx), prepared.crop),
        make_rng(seed, "ecg", "randomized_smoothing", "crops"),
        torch_generator(seed, "ecg", "randomized_smoothing", "order"), device)
    gen = torch_generator(seed, "ecg", "randomized_smoothing", "monte_carlo")
    pos = stratified_draw(prepared.y_test, rcfg["n_certify"], make_rng(seed, "ecg", "randomized_smoothing", "draw"))
    x, y, mask = _tensors(prepared, pos, device)
    pred_cert, radius = smoothed.certify(x, rcfg["n0"], rcfg["n"], rcfg["alpha"], gen)
    pred_clean = smoothed.predict(x, rcfg["n_predict"], rcfg["alpha"], gen)
    out = {"prob_test_base": predict_proba(smoothed.base, prepared.x_test, device=device),
           "pos": pos, "pred_certify": pred_cert, "radius": radius, "pred_clean": pred_clean,
           "sigma": np.array(float(rcfg["sigma"])), "n": np.array(rcfg["n"]), "alpha": np.array(rcfg["alpha"]),
           "eps": np.array([float(e) for e in rcfg["attack_eps"]]),
           "cert_eps": np.array([float(e) for e in cfg["attacks"]["eps"]])}
    preds = {"pgd": [], "sap": []}
    for eps in out["eps"]:
        pgd, sap = _pgd_and_sap(smoothed.base, float(eps), cfg)
        d_pgd = pgd.perturbation(x, y, mask)
        d_sap = sap.perturbation(x, y, mask, start=d_pgd)
        preds["pgd"].append(smoothed.predict(x + d_pgd, rcfg["n_predict"], rcfg["alpha"], gen))
        preds["sap"].append(smoothed.predict(x + d_sap, rcfg["n_predict"], rcfg["alpha"], gen))
    for k, v in preds.items():
        out[f"pred_{k}"] = np.stack(v) if v else np.zeros((0, len(pos)), np.int64)
    return out
