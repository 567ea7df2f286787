"""The four triggers of a run, per seed, and how a test set is triggered.

Attack ids (the ``attack`` column of the metrics):

* ``vae_missingness``: the fixed VAE trigger (:mod:`medrobust.ehr.missingness_vae`), the paper's attack;
* ``vae_per_sample``: a VAE mask per stay, from around the fixed trigger's latent code;
* ``vae_overwrite``: the fixed VAE trigger applied in ``overwrite`` mode (the record's mask becomes
  the trigger, see :func:`~medrobust.ehr.missingness_vae.apply_mask_trigger`), a sensitivity
  analysis of how the trigger is applied;
* ``random_missingness``: a random mask of the same density (:mod:`medrobust.ehr.random_missingness`);
* ``value_perturbation``: a Gaussian pattern on the values (:mod:`medrobust.ehr.value_perturbation`).

Triggers are drawn once per seed index in the ``ehr_triggers`` rule, from one VAE fitted on the
training masks; the model jobs and the input checks read the same file. A per-sample trigger
is drawn for test stays with ``make_rng(seed, "ehr", "test_trigger", attack, seed_index)``, so the
input checks and every model job trigger the very same test records.
"""
from __future__ import annotations

import numpy as np

from medrobust.core.seeding import derive_seed, make_rng
from medrobust.ehr.missingness_vae import MissingnessTrigger, fit_mask_vae, mask_scores, sample_triggers
from medrobust.ehr.preprocess import TEST, TRAIN, Prepared, Stays
from medrobust.ehr.random_missingness import random_mask
from medrobust.ehr.value_perturbation import ValueTrigger, gaussian_pattern

ATTACKS = ("vae_missingness", "vae_per_sample", "vae_overwrite", "random_missingness", "value_perturbation")


def make_triggers(prepared: Prepared, seed: int, n_seeds: int, vae_cfg: dict, value_scale: float,
                  log=None) -> dict[str, np.ndarray]:
    """Fit the attacker's VAE on the training masks and draw every trigger for each seed index."""
    train_masks = prepared.stays.mask[prepared.split == TRAIN]
    shape = tuple(train_masks.shape[1:])
    vae = fit_mask_vae(train_masks, derive_seed(seed, "ehr", "attacker_vae"), vae_cfg["epochs"],
                       vae_cfg["hidden"], vae_cfg["latent"])
    fit_score = float(mask_scores(vae, train_masks).mean())
    if log:
        log.info("attacker VAE: mean negative ELBO %.1f nats over %d training masks", fit_score, len(train_masks))
    out = {"vae_fixed": [], "vae_bank": [], "z_fixed": [], "random": [], "value": []}
    for s in range(n_seeds):
        rng = make_rng(seed, "ehr", "triggers", s)
        vae_t = sample_triggers(vae, shape, rng, vae_cfg["bank_size"], vae_cfg["per_sample_sigma"])
        out["vae_fixed"].append(vae_t.fixed)
        out["vae_bank"].append(vae_t.per_sample)
        out["z_fixed"].append(vae_t.z_fixed)
        out["random"].append(random_mask(shape, float(vae_t.fixed.mean()), rng))
        out["value"].append(gaussian_pattern(shape, value_scale, rng))
        if log:
            log.info("seed %d: VAE trigger keeps %.1f%% of cells (real masks %.1f%%)", s,
                     100 * vae_t.fixed.mean(), 100 * train_masks.mean())
    arrays = {k: np.stack(v) for k, v in out.items()}
    arrays["attacker_vae_neg_elbo"] = np.array(fit_score)
    # for the heatmap figure: the test stay with the median number of observations
    test_masks = prepared.stays.mask[prepared.split == TEST]
    counts = test_masks.sum(axis=(1, 2))
    arrays["example_mask"] = test_masks[np.argsort(counts, kind="stable")[len(counts) // 2]]
    arrays["variables"] = prepared.variables.astype(str)
    return arrays


def attack_for(name: str, triggers: dict[str, np.ndarray], seed_index: int, target: int,
               rng: np.random.Generator | None = None):
    """The attack object (``apply(x, y)``) of ``name`` for one seed index."""
    if name == "vae_missingness":
        return MissingnessTrigger(triggers["vae_fixed"][seed_index], target)
    if name == "vae_per_sample":
        return MissingnessTrigger(triggers["vae_bank"][seed_index], target, rng)
    if name == "vae_overwrite":
        return MissingnessTrigger(triggers["vae_fixed"][seed_index], target, mode="overwrite")
    if name == "random_missingness":
        return MissingnessTrigger(triggers["random"][seed_index], target)
    if name == "value_perturbation":
        return ValueTrigger(triggers["value"][seed_index], target)
    raise ValueError(f"unknown attack {name!r}; use one of {ATTACKS}")


def triggered_test(test: Stays, y: np.ndarray, name: str, triggers: dict[str, np.ndarray], seed: int,
                   seed_index: int, target: int) -> Stays:
    """Every test stay with the trigger applied (labels untouched: the caller keeps the true ones)."""
    rng = make_rng(seed, "ehr", "test_trigger", name, seed_index)
    stays, _ = attack_for(name, triggers, seed_index, target, rng).apply(test, y)
    return stays
