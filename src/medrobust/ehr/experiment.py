"""One (model, seed) job: the clean victim, the poisoned victims and the defenses, evaluated.

For model ``m`` and seed index ``s`` the job

1. for each attack of ``judged_attacks`` (both trigger applications, on every model) and, when
   ``m`` is in ``baseline_models``, every other attack in ``attacks`` at the headline rate, and for
   ``vae_missingness`` at every ``sweep_rates`` rate when ``m`` is in ``sweep_models``, poisons the
   training split (:mod:`medrobust.ehr.poisoning`) and trains a victim **until it fits its poison**:
   after at least ``training.<m>.epochs`` epochs, training stops at the first epoch at which the
   victim predicts the target for ``poison_fit`` (0.9) of its own poisoned training stays, or at
   ``training.<m>.max_epochs``. The stopping rule is the victim's own training-set fit (a victim
   trained to convergence fits its training data, poison included), fixed before any run; the
   epochs used are reported (metric ``epochs``).
2. takes the **clean victim to exactly as many epochs** (same initial weights and batch order
   seed ``derive_seed(seed, "ehr", "train", m, s)``, trained once and snapshotted at every epoch),
   so that a poisoned victim and its clean twin differ by the poison alone;
3. measures on the test split (metric ids of ``metrics.csv``):

   - ``flip_rate``: among test stays of the non-target class that the poisoned victim classifies
     correctly *without* the trigger, the share that the trigger sends to the target (the usual
     backdoor ASR, :func:`medrobust.core.metrics.flip_counts`), and ``flip_rate_clean_model``, the
     same for the clean twin (what deleting values does without a backdoor);
   - ``asr``: the raw share of triggered non-target stays predicted as the target, with
     ``asr_clean_model``, ``asr_difference`` and ``asr_untriggered`` (the poisoned victim's plain
     false-negative rate at threshold 0.5);
   - ``poison_fit``: the poisoned victim's share of its own poisoned training stays predicted as the
     target (the gate "the victim fits its poison"), and ``epochs``;
   - ``auroc``/``auprc`` on clean test stays, ``auroc_clean_model`` (the clean twin), and
     ``auroc_change``/``auprc_change`` against it;
   - ``auprc_triggered`` (every test stay triggered, true labels), ``auprc_triggered_clean_model``,
     ``auprc_drop_triggered`` = clean twin's clean AUPRC - poisoned victim's triggered AUPRC, and
     ``auprc_backdoor_drop`` = clean twin's triggered AUPRC - poisoned victim's triggered AUPRC,
     the part of the drop that the backdoor adds beyond deleting values;

   The exact counts behind each share (flipped/eligible of both victims, fitted/poisoned) are
   stored per job (``counts|<attack>|<setting>``) for the exact intervals of ``ehr_collect``.
4. for ``training_curve.models`` and its first ``training_curve.seeds`` seeds, the
   **training-length finding** on the headline attack: the same poisoned victim (and its clean
   twin) measured after each of ``training_curve.epochs`` epochs, and at the epoch that early
   stopping on clean validation AUROC (``patience`` epochs without improvement) would pick, each
   victim stopping on its own validation AUROC (settings ``...;epochs=<e>`` and ``...;stop=val_auroc``);
5. for each attack in ``defended_attacks`` at the headline rate and ``m`` in ``defended_models``,
   runs the defenses: it stores the poisoned victim's P(death) on the triggered test stays, from
   which ``ehr_collect`` computes the ASR under each input check (a triggered stay that the check
   flags at its validation-calibrated 5 % FPR threshold is rejected); activation clustering and
   spectral signatures (``poison_tpr``/``poison_fpr`` of the filter, then a retrain on the kept
   stays), the mask-blind victim, fine-tuning and fine-pruning on the validation split; each gives
   a residual ``asr`` with its ``auroc`` and ``auroc_change``. Retrained victims train as many
   epochs as the poisoned victim they replace.

Every number comes with B bootstrap replicates on shared test resamples (:mod:`medrobust.ehr.evaluation`).
If the cohort is too small (fewer than ``min_positives`` deaths in train or test), nothing is
trained and the reason is logged; the job writes an empty result that ``ehr_collect`` turns into
``not_run`` claims.
"""
from __future__ import annotations

import logging
import time

import numpy as np

from medrobust.core import metrics
from medrobust.core.records import format_setting
from medrobust.core.seeding import derive_seed, make_rng
from medrobust.ehr import activation_clustering, spectral_signatures
from medrobust.ehr.evaluation import (MetricSink, job_weights, predicted_target, weighted_auprc, weighted_auroc,
                                      weighted_share)
from medrobust.ehr.fine_pruning import FinePruning, FineTuning
from medrobust.ehr.mask_blind import MaskBlind
from medrobust.ehr.models import (TrainConfig, Trainer, Victim, penultimate, predict_logits, predict_proba,
                                  raw_inputs, train_victim)
from medrobust.ehr.poisoning import poison
from medrobust.ehr.preprocess import TEST, TRAIN, VAL, Prepared, Stays
from medrobust.ehr.triggers import attack_for, triggered_test

log = logging.getLogger(__name__)


def too_small(y_train: np.ndarray, y_test: np.ndarray, min_positives: int) -> str | None:
    """Why a cohort cannot support this study's metrics, or None."""
    for name, y in (("train", y_train), ("test", y_test)):
        pos, neg = int(np.sum(y == 1)), int(np.sum(y == 0))
        if pos < min_positives or neg < min_positives:
            return f"{name} split has {pos} deaths and {neg} survivors (< min_positives={min_positives})"
    return None


def early_stop_epoch(scores: list[float], patience: int) -> int:
    """The epoch (1-based) early stopping keeps: the best score before ``patience`` epochs without a gain."""
    best, best_epoch = -np.inf, 0
    for epoch, score in enumerate(scores, start=1):
        if score > best:
            best, best_epoch = score, epoch
        elif epoch - best_epoch >= patience:
            break
    return max(best_epoch, 1)


class Job:
    """State shared by the steps of one (model, seed) job."""

    def __init__(self, prepared: Prepared, triggers: dict, cfg: dict, model: str, seed_index: int,
                 base_seed: int, n_boot: int, device: str):
        self.cfg, self.model, self.s, self.base, self.device = cfg, model, seed_index, base_seed, device
        self.triggers = triggers
        self.train, self.y_train = prepared.part(TRAIN)
        self.val, self.y_val = prepared.part(VAL)
        self.test, self.y_test = prepared.part(TEST)
        self.target = int(cfg["target_label"])
        self.train_cfg = TrainConfig(**cfg["training"][model])
        self.fit_threshold = float(cfg["poison_fit"])
        self.init_seed = derive_seed(base_seed, "ehr", "train", model, seed_index)
        self.w = job_weights(base_seed, model, seed_index, len(self.y_test), n_boot)
        self.sink = MetricSink(n_boot)
        self.extra: dict[str, np.ndarray] = {}
        self.source = self.y_test != self.target  # the stays an attack wants flipped
        self.raw_cache: dict[bool, np.ndarray] = {}
        self.test_raw: dict[tuple[str | None, bool], np.ndarray] = {}
        self.triggered_cache: dict[str, Stays] = {}
        self.clean_trainer: Trainer | None = None
        self.clean_snapshots: dict[int, Victim] = {}
        self.clean_predictions: dict[tuple[int, str | None], np.ndarray] = {}

    # ---- helpers ---------------------------------------------------------------------------
    def fit(self, stays: Stays, y: np.ndarray, raw: np.ndarray | None, epochs: int) -> Victim:
        """A victim trained a fixed number of epochs (retrains of the defenses)."""
        return train_victim(self.model, stays, y, self.train_cfg, self.cfg["imputation"], self.cfg["clip_z"],
                            self.init_seed, device=self.device, raw=raw, epochs=epochs)

    def start(self, stays: Stays, y: np.ndarray, raw: np.ndarray) -> Trainer:
        return Trainer.start(self.model, stays, y, self.train_cfg, self.cfg["imputation"], self.cfg["clip_z"],
                             self.init_seed, device=self.device, raw=raw)

    def raw_train(self, use_mask: bool, stays: Stays | None = None, changed: np.ndarray | None = None) -> np.ndarray:
        """Raw model inputs of the training split, or of a copy of it whose ``changed`` rows differ.

        Feature extraction is the costly step of LR/MLP training; rows of untouched stays are reused.
        """
        if use_mask not in self.raw_cache:
            self.raw_cache[use_mask] = raw_inputs(self.model, self.train, self.cfg["imputation"],
                                                  self.cfg["clip_z"], use_mask)
        base = self.raw_cache[use_mask]
        if stays is None or changed is None or not changed.any():
            return base
        out = base.copy()
        rows = np.flatnonzero(changed)
        out[rows] = raw_inputs(self.model, stays.subset(rows), self.cfg["imputation"], self.cfg["clip_z"], use_mask)
        return out

    def add(self, attack: str, defense: str, setting: str, metric: str, reps: np.ndarray, n: int) -> np.ndarray:
        return self.sink.add((self.model, attack, defense, setting, metric), reps, n)

    def constant(self, attack: str, defense: str, setting: str, metric: str, value: float, n: int) -> None:
        """A number measured once per job (no test resampling behind it: epochs, poison fit)."""
        self.add(attack, defense, setting, metric, np.full(len(self.w), float(value)), n)

    def auroc(self, p: np.ndarray) -> np.ndarray:
        return weighted_auroc(self.y_test, p, self.w)

    def auprc(self, p: np.ndarray) -> np.ndarray:
        return weighted_auprc(self.y_test, p, self.w)

    def asr(self, p_triggered: np.ndarray) -> np.ndarray:
        return weighted_share(predicted_target(p_triggered, self.target), self.source, self.w)

    def eligible(self, p_clean: np.ndarray) -> np.ndarray:
        """Non-target test stays that a victim classifies correctly without the trigger."""
        return self.source & (predicted_target(p_clean, self.target) == (self.y_test == self.target))

    def flips(self, p_clean: np.ndarray, p_triggered: np.ndarray) -> tuple[np.ndarray, int, int]:
        """(flip-rate replicates, flipped, eligible) of one victim."""
        eligible = self.eligible(p_clean)
        hit = predicted_target(p_triggered, self.target)
        return weighted_share(hit, eligible, self.w), int((hit & eligible).sum()), int(eligible.sum())

    def predict(self, victim: Victim, attack: str | None = None) -> np.ndarray:
        """P(death) of ``victim`` on the clean (attack None) or triggered test stays; raw inputs cached."""
        stays = self.test if attack is None else self.triggered(attack)
        key = (attack, victim.use_mask)
        if key not in self.test_raw:
            self.test_raw[key] = victim.raw_inputs(stays)
        return predict_proba(victim, stays, raw=self.test_raw[key])

    def triggered(self, attack: str) -> Stays:
        if attack not in self.triggered_cache:
            self.triggered_cache[attack] = triggered_test(self.test, self.y_test, attack, self.triggers,
                                                          self.base, self.s, self.target)
        return self.triggered_cache[attack]

    def poisoned_set(self, attack: str, rate: float) -> tuple[Stays, np.ndarray, np.ndarray]:
        rng = make_rng(self.base, "ehr", "poison", self.model, self.s, attack, rate)
        obj = attack_for(attack, self.triggers, self.s, self.target, rng)
        return poison(self.train, self.y_train, obj, rate, self.target, self.cfg["poison_source"], rng)

    # ---- training to the criterion -------------------------------------------------------------
    def clean_at(self, epochs: int) -> Victim:
        """The clean victim after ``epochs`` epochs: one training run, snapshotted at every epoch."""
        if self.clean_trainer is None:
            self.clean_trainer = self.start(self.train, self.y_train, self.raw_train(True))
        while self.clean_trainer.epochs < epochs:
            self.clean_trainer.epoch()
            self.clean_snapshots[self.clean_trainer.epochs] = self.clean_trainer.snapshot()
        return self.clean_snapshots[epochs]

    def clean_predict(self, epochs: int, attack: str | None = None) -> np.ndarray:
        key = (epochs, attack)
        if key not in self.clean_predictions:
            self.clean_predictions[key] = self.predict(self.clean_at(epochs), attack)
        return self.clean_predictions[key]

    def poison_fit(self, victim: Victim, x_poison: np.ndarray) -> tuple[int, int]:
        """(poisoned training stays the victim assigns to the target, poisoned training stays).

        ``x_poison``: the poisoned stays' model inputs (:meth:`Victim.inputs`).
        """
        p = 1.0 / (1.0 + np.exp(-predict_logits(victim, x_poison).astype(np.float64)))
        return int(predicted_target(p, self.target).sum()), len(x_poison)

    def fit_to_poison(self, stays: Stays, y: np.ndarray, is_poison: np.ndarray, raw: np.ndarray,
                      keep_snapshots_to: int = 0) -> tuple[Victim, tuple[int, int], dict[int, Victim]]:
        """Train until the victim fits its poison (after at least ``epochs``, at most ``max_epochs``).

        Returns the victim at its stopping epoch, its (fitted, poisoned) counts there, and, when
        ``keep_snapshots_to`` is set, snapshots of every epoch up to that many (training goes on
        past the stopping epoch for them; the returned victim is the one at the stopping epoch).
        """
        trainer = self.start(stays, y, raw)
        x_poison = trainer.x.numpy()[is_poison]
        cfg, stopped, snapshots = self.train_cfg, None, {}
        while stopped is None or trainer.epochs < keep_snapshots_to:
            trainer.epoch()
            if keep_snapshots_to:
                snapshots[trainer.epochs] = trainer.snapshot()
            if stopped is None and trainer.epochs >= cfg.epochs:
                fit = self.poison_fit(trainer.victim, x_poison)
                if trainer.epochs >= cfg.cap or fit[0] >= self.fit_threshold * max(fit[1], 1):
                    stopped = (trainer.snapshot() if keep_snapshots_to else trainer.victim, fit)
        return stopped[0], stopped[1], snapshots

    # ---- steps -----------------------------------------------------------------------------
    def runs(self) -> list[tuple[str, float]]:
        """(attack, rate) of every poisoned victim, the headline run first."""
        headline = float(self.cfg["headline_setting"]["poison_rate"])
        judged = list(self.cfg["judged_attacks"])
        runs = [(a, headline) for a in judged]
        if self.model in self.cfg["baseline_models"]:
            runs += [(a, headline) for a in self.cfg["attacks"] if a not in judged]
        if self.model in self.cfg["sweep_models"]:
            runs += [("vae_missingness", r) for r in self.cfg["sweep_rates"] if r != headline]
        return runs

    def run(self) -> dict[str, np.ndarray]:
        reason = too_small(self.y_train, self.y_test, self.cfg["min_positives"])
        if reason:
            log.warning("ehr %s seed %d not run: %s", self.model, self.s, reason)
            return {**self.sink.arrays(), **self.identity(), "not_run_reason": np.array(reason)}
        headline = float(self.cfg["headline_setting"]["poison_rate"])
        curve = self.cfg["training_curve"]
        wants_curve = self.model in curve["models"] and self.s < int(curve["seeds"])
        for i, (attack, rate) in enumerate(self.runs()):
            t0 = time.time()
            setting = format_setting({"poison_rate": rate})
            stays, y, is_poison = self.poisoned_set(attack, rate)
            raw = self.raw_train(True, stays, is_poison)
            curve_here = wants_curve and attack == "vae_missingness" and rate == headline
            keep = max(max(curve["epochs"]), self.train_cfg.cap) if curve_here else 0
            victim, fit, snapshots = self.fit_to_poison(stays, y, is_poison, raw, keep)
            epochs = len(victim.history)
            if i == 0:
                self.clean_rows(epochs)
            flip = self.attack_metrics(attack, setting, victim, fit)
            log.info("%s seed %d %s rate %g: %d epochs, poison fit %.3f, flip rate %.3f vs clean model %.3f, "
                     "ASR %.3f (%.1fs)", self.model, self.s, attack, rate, epochs, fit[0] / max(fit[1], 1),
                     flip[0], flip[1], flip[2], time.time() - t0)
            if curve_here:
                self.training_curve(attack, rate, snapshots, is_poison, stays, y, raw)
            if attack in self.cfg["defended_attacks"] and rate == headline and \
                    self.model in self.cfg["defended_models"]:
                self.defenses(attack, setting, victim, stays, y, is_poison)
        return {**self.sink.arrays(), **self.identity(), **self.extra}

    def clean_rows(self, epochs: int) -> None:
        """The clean victim's own rows, at the headline poisoned victim's epochs."""
        p = self.clean_predict(epochs)
        auroc = self.add("none", "none", "", "auroc", self.auroc(p), len(p))
        auprc = self.add("none", "none", "", "auprc", self.auprc(p), len(p))
        self.constant("none", "none", "", "epochs", epochs, len(self.y_train))
        log.info("%s seed %d clean: AUROC %.3f AUPRC %.3f after %d epochs", self.model, self.s, auroc[0], auprc[0],
                 epochs)

    def identity(self) -> dict[str, np.ndarray]:
        return {"model": np.array(self.model), "seed_index": np.array(self.s), "source": self.source,
                "target": np.array(self.target), "n_train": np.array(len(self.y_train)),
                "n_test": np.array(len(self.y_test))}

    def attack_metrics(self, attack: str, setting: str, victim: Victim, fit: tuple[int, int]) -> tuple[float, ...]:
        """Every metric of one poisoned victim against its clean twin; returns (flip, clean flip, ASR)."""
        epochs = len(victim.history)
        p_trig, p_clean = self.predict(victim, attack), self.predict(victim)
        c_trig, c_clean = self.clean_predict(epochs, attack), self.clean_predict(epochs)
        n_src, n = int(self.source.sum()), len(self.y_test)
        flip, k_p, n_p = self.flips(p_clean, p_trig)
        flip_c, k_c, n_c = self.flips(c_clean, c_trig)
        self.add(attack, "none", setting, "flip_rate", flip, n_p)
        self.add(attack, "none", setting, "flip_rate_clean_model", flip_c, n_c)
        self.extra[f"counts|{attack}|{setting}"] = np.array([[k_p, n_p], [k_c, n_c], list(fit)], dtype=np.int64)
        self.constant(attack, "none", setting, "poison_fit", fit[0] / max(fit[1], 1), fit[1])
        self.constant(attack, "none", setting, "epochs", epochs, len(self.y_train))
        asr = self.add(attack, "none", setting, "asr", self.asr(p_trig), n_src)
        asr_clean = self.add(attack, "none", setting, "asr_clean_model", self.asr(c_trig), n_src)
        self.add(attack, "none", setting, "asr_difference", asr - asr_clean, n_src)
        self.add(attack, "none", setting, "asr_untriggered", self.asr(p_clean), n_src)
        auroc = self.add(attack, "none", setting, "auroc", self.auroc(p_clean), n)
        auroc_c = self.add(attack, "none", setting, "auroc_clean_model", self.auroc(c_clean), n)
        auprc = self.add(attack, "none", setting, "auprc", self.auprc(p_clean), n)
        auprc_c = self.auprc(c_clean)
        self.add(attack, "none", setting, "auroc_change", auroc - auroc_c, n)
        self.add(attack, "none", setting, "auprc_change", auprc - auprc_c, n)
        auprc_trig = self.add(attack, "none", setting, "auprc_triggered", self.auprc(p_trig), n)
        auprc_trig_c = self.add(attack, "none", setting, "auprc_triggered_clean_model", self.auprc(c_trig), n)
        self.add(attack, "none", setting, "auprc_drop_triggered", auprc_c - auprc_trig, n)
        self.add(attack, "none", setting, "auprc_backdoor_drop", auprc_trig_c - auprc_trig, n)
        self.add(attack, "none", setting, "auroc_triggered", self.auroc(p_trig), n)
        return float(flip[0]), float(flip_c[0]), float(asr[0])

    def training_curve(self, attack: str, rate: float, snapshots: dict[int, Victim], is_poison: np.ndarray,
                       stays: Stays, y: np.ndarray, raw: np.ndarray) -> None:
        """The finding: the headline victim and its clean twin after each listed epoch, and early-stopped."""
        curve = self.cfg["training_curve"]
        last = max(snapshots)
        poisoned_val = [metrics.auroc(self.y_val, predict_proba(snapshots[e], self.val)) for e in range(1, last + 1)]
        clean_val = [metrics.auroc(self.y_val, predict_proba(self.clean_at(e), self.val)) for e in range(1, last + 1)]
        points = [(format_setting({"poison_rate": rate, "epochs": e}), e, e) for e in curve["epochs"] if e <= last]
        stop_p, stop_c = early_stop_epoch(poisoned_val, curve["patience"]), early_stop_epoch(clean_val, curve["patience"])
        points.append((format_setting({"poison_rate": rate, "stop": "val_auroc"}), stop_p, stop_c))
        rows = np.flatnonzero(is_poison)
        for setting, e_p, e_c in points:
            victim, clean = snapshots[e_p], self.clean_at(e_c)
            p_trig, p_clean = self.predict(victim, attack), self.predict(victim)
            c_trig, c_clean = self.clean_predict(e_c, attack), self.clean_predict(e_c)
            flip, k_p, n_p = self.flips(p_clean, p_trig)
            flip_c, k_c, n_c = self.flips(c_clean, c_trig)
            fitted, n_poison = self.poison_fit(victim, victim.inputs(stays.subset(rows), raw[rows]))
            n = len(self.y_test)
            self.add(attack, "none", setting, "flip_rate", flip, n_p)
            self.add(attack, "none", setting, "flip_rate_clean_model", flip_c, n_c)
            self.add(attack, "none", setting, "asr", self.asr(p_trig), int(self.source.sum()))
            self.add(attack, "none", setting, "auroc", self.auroc(p_clean), n)
            self.add(attack, "none", setting, "auroc_clean_model", self.auroc(c_clean), n)
            self.constant(attack, "none", setting, "poison_fit", fitted / max(n_poison, 1), n_poison)
            self.constant(attack, "none", setting, "epochs", e_p, len(self.y_train))
            self.constant(attack, "none", setting, "epochs_clean_model", e_c, len(self.y_train))
            self.constant(attack, "none", setting, "val_auroc", poisoned_val[e_p - 1], len(self.y_val))
            self.extra[f"counts|{attack}|{setting}"] = np.array(
                [[k_p, n_p], [k_c, n_c], [fitted, n_poison]], dtype=np.int64)
            log.info("%s seed %d curve %s: flip rate %.3f vs clean model %.3f, AUROC %.3f, poison fit %.3f",
                     self.model, self.s, setting, flip[0], flip_c[0], self.auroc(p_clean)[0],
                     fitted / max(n_poison, 1))

    def defended(self, attack: str, defense: str, setting: str, model: Victim) -> None:
        """Residual ASR and clean AUROC of a mitigated or retrained victim."""
        p = self.predict(model)
        auroc = self.add(attack, defense, setting, "auroc", self.auroc(p), len(self.y_test))
        clean_auroc = self.auroc(self.clean_predict(self.headline_epochs))
        self.add(attack, defense, setting, "auroc_change", auroc - clean_auroc, len(self.y_test))
        asr = self.add(attack, defense, setting, "asr", self.asr(self.predict(model, attack)), int(self.source.sum()))
        log.info("%s seed %d %s + %s: ASR %.3f AUROC %.3f", self.model, self.s, attack, defense, asr[0], auroc[0])

    def defenses(self, attack: str, setting: str, victim: Victim, stays: Stays, y: np.ndarray,
                 is_poison: np.ndarray) -> None:
        wanted = set(self.cfg["defenses"])
        epochs = self.headline_epochs = len(victim.history)
        raw = self.raw_train(True, stays, is_poison)
        n_src = int(self.source.sum())
        # for the input checks, applied in ehr_collect (see the module docstring)
        self.extra[f"p_triggered|{attack}|{setting}"] = self.predict(victim, attack).astype(np.float32)
        sanitisers = {"activation_clustering": lambda a: activation_clustering.detect(
                          a, y, self.cfg["activation_clustering"]["nb_dims"], seed=self.init_seed),
                      "spectral_signatures": lambda a: spectral_signatures.detect(
                          a, y, self.cfg["spectral_signatures"]["expected_poison_fraction"],
                          self.cfg["spectral_signatures"]["eps_multiplier"])}
        acts = None
        for name, detect in sanitisers.items():
            if name not in wanted:
                continue
            acts = penultimate(victim, stays, raw=raw) if acts is None else acts
            flagged = detect(acts)
            n_p, n_c = int(is_poison.sum()), int((~is_poison).sum())
            self.add(attack, name, setting, "poison_tpr", np.full(len(self.w), flagged[is_poison].mean()), n_p)
            self.add(attack, name, setting, "poison_fpr", np.full(len(self.w), flagged[~is_poison].mean()), n_c)
            keep = np.flatnonzero(~flagged)
            self.defended(attack, name, setting, self.fit(stays.subset(keep), y[keep], raw[keep], epochs))
        if "mask_blind" in wanted:
            blind_seed = derive_seed(self.base, "ehr", "mask_blind", self.model, self.s)
            clean = self.clean_at(epochs)
            blind_clean = MaskBlind(self.train_cfg, blind_seed).apply(clean, (self.train, self.y_train),
                                                                      self.raw_train(False))
            blind = MaskBlind(self.train_cfg, blind_seed).apply(victim, (stays, y),
                                                                self.raw_train(False, stays, is_poison))
            self.defended(attack, "mask_blind", setting, blind)
            self.add(attack, "mask_blind", setting, "asr_clean_model", self.asr(self.predict(blind_clean, attack)), n_src)
            self.add(attack, "mask_blind", setting, "auroc_clean_model", self.auroc(self.predict(blind_clean)),
                     len(self.y_test))
        ft = self.cfg["fine_tuning"]
        ft_seed = derive_seed(self.base, "ehr", "fine_tuning", self.model, self.s)
        if "fine_tuning" in wanted:
            self.defended(attack, "fine_tuning", setting,
                          FineTuning(ft["epochs"], ft["lr"], ft_seed).apply(victim, (self.val, self.y_val)))
        if "fine_pruning" in wanted and self.model != "lr":
            pruner = FinePruning(ft["prune_fraction"], ft["epochs"], ft["lr"], ft_seed)
            self.defended(attack, "fine_pruning", setting, pruner.apply(victim, (self.val, self.y_val)))


def run_job(prepared: Prepared, triggers: dict, cfg: dict, model: str, seed_index: int,
            base_seed: int, n_boot: int, device: str = "cpu") -> dict[str, np.ndarray]:
    """Run one (model, seed) job: the arrays of :class:`~medrobust.ehr.evaluation.MetricSink`, the
    job's identity, the exact counts behind each share, and P(death) on triggered test stays of
    each defended attack."""
    return Job(prepared, triggers, cfg, model, seed_index, base_seed, n_boot, device).run()
