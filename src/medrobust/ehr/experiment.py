"""One (model, seed) job: the clean victim, the poisoned victims and the defenses, evaluated.

For model ``m`` and seed index ``s`` the job

1. trains the clean victim on the training split;
2. for ``vae_missingness`` and, when ``m`` is in ``baseline_models``, every other attack in
   ``attacks`` at the headline rate, and for ``vae_missingness`` at every
   ``sweep_rates`` rate when ``m`` is in ``sweep_models``, poisons the training split
   (:mod:`medrobust.ehr.poisoning`), trains a victim from the same initial weights, and measures
   on the test split (metric ids of ``metrics.csv``):

   - ``asr``: share of triggered test stays of the non-target class predicted as the target;
   - ``asr_clean_model``: the same with the clean victim (what deleting values does without any
     backdoor) and ``asr_difference`` = ``asr`` - ``asr_clean_model``, the backdoor's own effect;
   - ``asr_untriggered``: the poisoned victim's share of *untriggered* non-target stays predicted
     as the target (its plain false-negative rate at threshold 0.5);
   - ``auroc``/``auprc`` on clean test stays and ``auroc_change``/``auprc_change`` against the
     clean victim;
   - ``auprc_triggered`` (every test stay triggered, true labels), ``auprc_triggered_clean_model``,
     and ``auprc_drop_triggered`` = clean victim's clean AUPRC - poisoned victim's triggered AUPRC;

3. for each attack in ``defended_attacks`` at the headline rate, runs the defenses:
   it stores the poisoned victim's P(death) on the triggered test stays, from which
   ``ehr_collect`` computes the ASR under each input check (a triggered stay that the check flags
   at its validation-calibrated 5 % FPR threshold is rejected, so the attack only counts when
   unflagged; keeping this out of the job lets the jobs run beside the input checks), activation clustering and
   spectral signatures (``poison_tpr``/``poison_fpr`` of the filter, then a retrain on the kept
   stays), the mask-blind victim, fine-tuning and fine-pruning on the validation split; each gives
   a residual ``asr`` with its ``auroc`` and ``auroc_change`` against the undefended clean victim.

The clean victim and every poisoned victim start from the same weights and batch order seed
(``derive_seed(seed, "ehr", "train", m, s)``), so their difference is the poison's.
Every number comes with B bootstrap replicates on shared test resamples (:mod:`medrobust.ehr.evaluation`).
If the cohort is too small (fewer than ``min_positives`` deaths in train or test), nothing is
trained and the reason is logged; the job writes an empty result that ``ehr_collect`` turns into
``not_run`` claims.
"""
from __future__ import annotations

import logging
import time

import numpy as np

from medrobust.core.records import format_setting
from medrobust.core.seeding import derive_seed, make_rng
from medrobust.ehr import activation_clustering, spectral_signatures
from medrobust.ehr.evaluation import (MetricSink, job_weights, predicted_target, weighted_auprc, weighted_auroc,
                                      weighted_share)
from medrobust.ehr.fine_pruning import FinePruning, FineTuning
from medrobust.ehr.mask_blind import MaskBlind
from medrobust.ehr.models import TrainConfig, Victim, penultimate, predict_proba, raw_inputs, train_victim
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
        self.init_seed = derive_seed(base_seed, "ehr", "train", model, seed_index)
        self.w = job_weights(base_seed, model, seed_index, len(self.y_test), n_boot)
        self.sink = MetricSink(n_boot)
        self.extra: dict[str, np.ndarray] = {}
        self.source = self.y_test != self.target  # the stays an attack wants flipped
        self.clean_cache: dict[str, np.ndarray] = {}
        self.raw_cache: dict[bool, np.ndarray] = {}
        self.test_raw: dict[tuple[str | None, bool], np.ndarray] = {}
        self.triggered_cache: dict[str, Stays] = {}

    # ---- helpers ---------------------------------------------------------------------------
    def fit(self, stays: Stays, y: np.ndarray, raw: np.ndarray | None = None) -> Victim:
        return train_victim(self.model, stays, y, self.train_cfg, self.cfg["imputation"], self.cfg["clip_z"],
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

    def auroc(self, p: np.ndarray) -> np.ndarray:
        return weighted_auroc(self.y_test, p, self.w)

    def auprc(self, p: np.ndarray) -> np.ndarray:
        return weighted_auprc(self.y_test, p, self.w)

    def asr(self, p_triggered: np.ndarray) -> np.ndarray:
        return weighted_share(predicted_target(p_triggered, self.target), self.source, self.w)

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

    # ---- steps -----------------------------------------------------------------------------
    def run(self) -> dict[str, np.ndarray]:
        reason = too_small(self.y_train, self.y_test, self.cfg["min_positives"])
        if reason:
            log.warning("ehr %s seed %d not run: %s", self.model, self.s, reason)
            return {**self.sink.arrays(), **self.identity(), "not_run_reason": np.array(reason)}
        t0 = time.time()
        self.clean = self.fit(self.train, self.y_train, self.raw_train(True))
        p = self.predict(self.clean)
        self.clean_auroc = self.add("none", "none", "", "auroc", self.auroc(p), len(p))
        self.clean_auprc = self.add("none", "none", "", "auprc", self.auprc(p), len(p))
        log.info("%s seed %d clean: AUROC %.3f AUPRC %.3f (%.1fs)", self.model, self.s,
                 self.clean_auroc[0], self.clean_auprc[0], time.time() - t0)
        headline = float(self.cfg["headline_setting"]["poison_rate"])
        runs = [(a, headline) for a in self.cfg["attacks"]
                if a == "vae_missingness" or self.model in self.cfg["baseline_models"]]
        if self.model in self.cfg["sweep_models"]:
            runs += [("vae_missingness", r) for r in self.cfg["sweep_rates"] if r != headline]
        for attack, rate in runs:
            t1 = time.time()
            stays, y, is_poison = self.poisoned_set(attack, rate)
            victim = self.fit(stays, y, self.raw_train(True, stays, is_poison))
            setting = format_setting({"poison_rate": rate})
            asr = self.attack_metrics(attack, setting, victim)
            log.info("%s seed %d %s rate %g: ASR %.3f vs clean-model %.3f (%.1fs)", self.model, self.s,
                     attack, rate, asr[0], self.clean_asr(attack)[0], time.time() - t1)
            if attack in self.cfg["defended_attacks"] and rate == headline:
                self.defenses(attack, setting, victim, stays, y, is_poison)
        return {**self.sink.arrays(), **self.identity(), **self.extra}

    def identity(self) -> dict[str, np.ndarray]:
        return {"model": np.array(self.model), "seed_index": np.array(self.s), "source": self.source,
                "target": np.array(self.target)}

    def clean_asr(self, attack: str) -> np.ndarray:
        if attack not in self.clean_cache:
            self.clean_cache[attack] = self.predict(self.clean, attack)
        return self.asr(self.clean_cache[attack])

    def attack_metrics(self, attack: str, setting: str, victim: Victim) -> np.ndarray:
        p_trig, p_clean = self.predict(victim, attack), self.predict(victim)
        n_src = int(self.source.sum())
        asr = self.add(attack, "none", setting, "asr", self.asr(p_trig), n_src)
        asr_clean = self.add(attack, "none", setting, "asr_clean_model", self.clean_asr(attack), n_src)
        self.add(attack, "none", setting, "asr_difference", asr - asr_clean, n_src)
        self.add(attack, "none", setting, "asr_untriggered", self.asr(p_clean), n_src)
        n = len(self.y_test)
        auroc = self.add(attack, "none", setting, "auroc", self.auroc(p_clean), n)
        auprc = self.add(attack, "none", setting, "auprc", self.auprc(p_clean), n)
        self.add(attack, "none", setting, "auroc_change", auroc - self.clean_auroc, n)
        self.add(attack, "none", setting, "auprc_change", auprc - self.clean_auprc, n)
        auprc_trig = self.add(attack, "none", setting, "auprc_triggered", self.auprc(p_trig), n)
        self.add(attack, "none", setting, "auprc_triggered_clean_model", self.auprc(self.clean_cache[attack]), n)
        self.add(attack, "none", setting, "auprc_drop_triggered", self.clean_auprc - auprc_trig, n)
        self.add(attack, "none", setting, "auroc_triggered", self.auroc(p_trig), n)
        return asr

    def defended(self, attack: str, defense: str, setting: str, model: Victim) -> None:
        """Residual ASR and clean AUROC of a mitigated or retrained victim."""
        auroc = self.add(attack, defense, setting, "auroc", self.auroc(self.predict(model)), len(self.y_test))
        self.add(attack, defense, setting, "auroc_change", auroc - self.clean_auroc, len(self.y_test))
        asr = self.add(attack, defense, setting, "asr", self.asr(self.predict(model, attack)), int(self.source.sum()))
        log.info("%s seed %d %s + %s: ASR %.3f AUROC %.3f", self.model, self.s, attack, defense, asr[0], auroc[0])

    def defenses(self, attack: str, setting: str, victim: Victim, stays: Stays, y: np.ndarray,
                 is_poison: np.ndarray) -> None:
        wanted = set(self.cfg["defenses"])
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
            self.defended(attack, name, setting, self.fit(stays.subset(keep), y[keep], raw[keep]))
        if "mask_blind" in wanted:
            blind_seed = derive_seed(self.base, "ehr", "mask_blind", self.model, self.s)
            blind_clean = MaskBlind(self.train_cfg, blind_seed).apply(self.clean, (self.train, self.y_train),
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
    job's identity, and P(death) on triggered test stays of each defended attack."""
    return Job(prepared, triggers, cfg, model, seed_index, base_seed, n_boot, device).run()
