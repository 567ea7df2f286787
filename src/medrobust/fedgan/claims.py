"""The published claims of Jin & Li, each judged from the pooled fedgan numbers by a rule of :mod:`medrobust.core.claims`.

One function per claim: its gates beside its rule, each threshold fixed here before any run and
stated with its basis. The paper is Jin & Li, "Backdoor attack and defense in federated
generative adversarial network-based medical image synthesis", Medical Image Analysis
2023;90:102965 (arXiv 2210.10886), abstract and the contribution list of Sec. 1; its FedDetect
rule is read from the authors' code (github.com/Nanboy-Ronan/Backdoor-FedGAN, scripts/vanilla.py).

Gates shared by the GAN claims (issue 13):

* **the clean federation produces recognisable images**: every seed's clean federation has a
  label agreement of at least 0.8 with the real-data classifier (four in five samples are
  recognisably of the class they were generated for), the feature distance stated beside the
  real-vs-real floor;
* **the classifier that judges them has converged**: it stopped by early stopping on the real
  validation split, not at its epoch limit;
* **seeds**: at least two seed indices, since replicates are seeds and never checkpoints of one
  run; with one seed a claim on a difference of federations has no interval and is inconclusive;
* for trigger counts, **a trigger detector that sees the trigger** (TPR >= 0.9 on stamped real
  test images) **and does not invent it** (FPR <= 0.05 on clean ones), at least 200 samples, and
  **no trigger without attack** (the exact upper bound of the clean federation's share <= 0.05).

Differences between federations are paired by seed index (t interval over seeds); trigger
shares are pooled over seeds and get exact intervals on the samples inspected (Newcombe for a
difference of two shares). A claimed direction ("higher under attack") has the threshold 0, so
it is reproduced only when the whole interval lies on the claimed side; the trigger's spread has
a materiality line instead (the attack adds it to at least one sample in fifty), so that a
trigger that never appears is ``not_reproduced`` rather than undecided.
"""
from __future__ import annotations

from typing import Sequence

from medrobust.core.claims import Gate, Part, at_least, at_most, enough_cases, gate_at_least, gate_at_most, \
    make_claim, not_run_claim
from medrobust.core.metrics import Estimate, exact_share
from medrobust.core.records import Claim
from medrobust.fedgan.collect import Pooled

SOURCE = ("Jin & Li, Medical Image Analysis 2023;90:102965 (arXiv 2210.10886), abstract and Sec. 1; "
          "FedDetect rule from the authors' code, github.com/Nanboy-Ronan/Backdoor-FedGAN scripts/vanilla.py")
CLEAN, ATTACKED = ("none", "none"), ("patch_trigger", "none")
DEFENSE_NAMES = {"feddetect": "FedDetect (medrobust's reading)", "feddetect_authors": "FedDetect (the authors' rule)"}
LABEL_AGREEMENT_MIN = 0.8  # issue 13: four in five samples recognisably of their class
DETECTOR_TPR_MIN, DETECTOR_FPR_MAX = 0.9, 0.05
MIN_SAMPLES = 200  # an exact interval on a share is then at most about +-0.07 wide
MIN_SEEDS = 2
CLEAN_TRIGGER_MAX = 0.05  # "does not appear": at most one sample in twenty, the usual false-alarm level
SPREAD_MIN = 0.02  # "appears": the attack adds the trigger to at least one sample in fifty
FLAG_MIN = 0.5  # "the malicious client is detected": flagged in most rounds after the warm-up
BENIGN_FLAG_MAX = 0.1  # benign clients are kept: flagged in at most one round in ten
FIX_ROUNDS = "more rounds (fedgan.rounds) or --configfile config/paper.yaml"
FIX_SEEDS = "fedgan.seeds: 3 (or --configfile config/paper.yaml)"


# ------------------------------------------------------------------------------------------ gates

def gan_quality_gate(p: Pooled) -> Gate:
    clean = p.get(*CLEAN)
    worst = float(clean.per_seed("label_agreement").min()) if clean else float("nan")
    fid = clean.over_seeds("fid").value if clean else float("nan")
    floor = float(p.evaluators["fid_real_val"])
    return gate_at_least(
        "clean GAN quality", worst, LABEL_AGREEMENT_MIN,
        f"lowest seed's label agreement of the clean federation's samples (its FID {fid:.3g} against a "
        f"real-vs-real floor of {floor:.3g})",
        basis="issue 13: a GAN claim needs the clean federation to produce recognisable images; 0.8 = four in "
              "five samples classified as the class they were generated for", fix=FIX_ROUNDS)


def classifier_gate(p: Pooled) -> Gate:
    return gate_at_least("classifier converged", float(bool(p.evaluators["real_converged_0"])), 1.0,
                         "real-data feature classifier stopped by early stopping (1 = yes)",
                         basis="its features and labels judge every sample",
                         fix="fedgan.evaluators.max_epochs")


def seeds_gate(p: Pooled) -> Gate:
    return enough_cases(p.n_seeds, MIN_SEEDS, "seeds (replicate federations)", fix=FIX_SEEDS)


def gan_gates(p: Pooled) -> list[Gate]:
    return [gan_quality_gate(p), classifier_gate(p), seeds_gate(p)]


def detector_gates(p: Pooled) -> list[Gate]:
    tpr, fpr = p.detector_share("detector_tp"), p.detector_share("detector_fp")
    basis = "a detector that misses the trigger, or fires on clean images, cannot count it"
    return [gate_at_least("trigger detector TPR", tpr.value, DETECTOR_TPR_MIN, "share of stamped real test images "
                          "judged to carry the trigger", basis=basis, fix="fedgan.evaluators.max_epochs"),
            gate_at_most("trigger detector FPR", fpr.value, DETECTOR_FPR_MAX, "share of clean real test images "
                         "judged to carry the trigger", basis=basis, fix="fedgan.evaluators.max_epochs")]


def samples_gate(p: Pooled, key: tuple[str, str]) -> Gate:
    v = p.get(*key)
    return enough_cases(int(v.trigger_counts()[1]) if v else 0, MIN_SAMPLES, "samples inspected",
                        fix="fedgan.seeds")


def _detector_line(p: Pooled) -> str:
    tpr, faint, fpr = (p.detector_share(k) for k in ("detector_tp", "detector_tp_faint", "detector_fp"))
    return (f"trigger detector on real test images: TPR {tpr.value:.3f} [{tpr.ci_low:.3f}, {tpr.ci_high:.3f}] "
            f"stamped, {faint.value:.3f} half-strength, FPR {fpr.value:.3f} [{fpr.ci_low:.3f}, {fpr.ci_high:.3f}]")


def _share(p: Pooled, key: tuple[str, str]) -> Estimate | None:
    v = p.get(*key)
    return v.trigger_share() if v else None


# ------------------------------------------------------------------------------------------ claims

def trigger_spreads(p: Pooled) -> Claim:
    """The trigger on one client's images appears in the shared generator's samples, and not without attack."""
    spread = p.trigger_difference(ATTACKED, CLEAN)
    clean = _share(p, CLEAN)
    attacked = _share(p, ATTACKED)
    if attacked is None or clean is None:
        return not_run_claim("fedgan_c0_trigger_spreads", title="trigger spreads", statement="trigger spread",
                             source=SOURCE, paper_value="", reason="needs the clean and the attacked federation")
    return make_claim(
        "fedgan_c0_trigger_spreads", title="trigger spreads into the generator",
        statement=(f"Under attack the final shared generator draws the malicious client's trigger in "
                   f"{attacked.value:.3f} [{attacked.ci_low:.3f}, {attacked.ci_high:.3f}] of {attacked.n} samples "
                   f"(one per real test image and seed, all classes), against {clean.value:.3f} "
                   f"[{clean.ci_low:.3f}, {clean.ci_high:.3f}] in the clean federation; {_detector_line(p)}. "
                   f"The malicious client stamps every image it holds, of every class, so no class is unpoisoned."),
        source=SOURCE, paper_value="poisoned discriminators contaminate the other clients through the averaged "
                                   "generator (abstract); a trigger under 0.5% of the image corrupts the FedGAN",
        estimate=spread, rule=at_least(SPREAD_MIN, "attacked minus clean trigger share"),
        gates=[gan_quality_gate(p), classifier_gate(p), *detector_gates(p), samples_gate(p, CLEAN),
               gate_at_most("absent without attack", clean.ci_high, CLEAN_TRIGGER_MAX,
                            "upper 95% bound (exact) of the clean federation's trigger share",
                            basis="the trigger must not appear without attack, else the detector counts "
                                  "something else in synthetic images", fix="fedgan.evaluators")],
        scale=p.scale, seeds=p.n_seeds)


def fidelity_drops(p: Pooled) -> Claim:
    fid, kid = p.difference(ATTACKED, CLEAN, "fid"), p.difference(ATTACKED, CLEAN, "kid")
    return make_claim(
        "fedgan_c1_fidelity_drops", title="attack lowers fidelity",
        statement=("A trigger on one client's images lowers the fidelity of the shared generator's samples: "
                   "FID and KID to the real test split in the real-data classifier's feature space, attacked minus "
                   "clean federation, paired by seed"),
        source=SOURCE, paper_value="the backdoor attack on FedGANs results in synthetic images with low fidelity",
        estimate=fid, rule=at_least(0, "attacked minus clean FID"),
        parts=[Part("FID", fid, at_least(0, "attacked minus clean FID")),
               Part("KID", kid, at_least(0, "attacked minus clean KID"))],
        gates=gan_gates(p), scale=p.scale, seeds=p.n_seeds)


def _loss_claim(p: Pooled, claim_id: str, title: str, statement: str, paper_value: str, metric: str,
                quantity: str) -> Claim:
    est = p.difference(ATTACKED, CLEAN, metric)
    return make_claim(claim_id, title=title, statement=statement, source=SOURCE, paper_value=paper_value,
                      estimate=est, rule=at_least(0, quantity), gates=gan_gates(p), scale=p.scale,
                      seeds=p.n_seeds)


def generator_loss_rises(p: Pooled) -> Claim:
    return _loss_claim(p, "fedgan_c1_generator_loss_rises", "generator loss rises",
                       "Under attack the clients' generator loss rises (mean over clients and the final rounds, "
                       "attacked minus clean, paired by seed)", "yields high generator loss (abstract)",
                       "generator_loss", "attacked minus clean generator loss")


def discriminator_overfits(p: Pooled) -> Claim:
    return _loss_claim(p, "fedgan_c2_discriminator_overfits", "malicious discriminator overfits",
                       "The malicious client's discriminator overfits its poisoned data: its loss falls below the "
                       "benign clients' (benign minus malicious discriminator loss over the final rounds, attacked "
                       "minus the same gap in the clean run, paired by seed)",
                       "local discriminators overfit the poisoned data (abstract)", "discriminator_gap",
                       "attacked minus clean discriminator-loss gap")


def damage_spreads(p: Pooled) -> Claim:
    return _loss_claim(p, "fedgan_c2_damage_spreads", "benign clients contaminated",
                       "Averaging generators spreads the damage: the benign clients' generator loss rises (final "
                       "rounds, attacked minus clean, paired by seed)",
                       "the corrupted equilibrium contaminates other clients when averaging the generator "
                       "(abstract)", "generator_loss_benign", "attacked minus clean benign generator loss")


def _defended(p: Pooled, defense: str):
    return p.get("patch_trigger", defense)


def feddetect_flags_attacker(p: Pooled, defense: str) -> Claim:
    claim_id, name = f"fedgan_c3_{defense}_flags_attacker", DEFENSE_NAMES[defense]
    v = _defended(p, defense)
    if v is None:
        return not_run_claim(claim_id, title=f"{name} flags attacker", statement="FedDetect detection",
                             source=SOURCE, paper_value="", reason=f"needs {defense} in fedgan.defenses")
    flags = v.flag_counts()
    tpr = exact_share(flags["attacker_hits"], flags["attacker_rounds"])
    return make_claim(
        claim_id, title=f"{name} flags the attacker",
        statement=(f"{name} flags the malicious client from its reported losses: share of the client-rounds after "
                   f"the warm-up in which it is flagged, pooled over seeds"),
        source=SOURCE, paper_value="FedDetect detects the malicious clients from their losses (abstract)",
        estimate=tpr, rule=at_least(FLAG_MIN, "share of rounds the malicious client is flagged"),
        gates=[gan_quality_gate(p), enough_cases(flags["attacker_rounds"], 10, "client-rounds scored", fix=FIX_ROUNDS)],
        scale=p.scale, seeds=len(v.runs))


def feddetect_spares_benign(p: Pooled, defense: str) -> Claim:
    claim_id, name = f"fedgan_c3_{defense}_spares_benign", DEFENSE_NAMES[defense]
    v = _defended(p, defense)
    if v is None:
        return not_run_claim(claim_id, title=f"{name} spares benign", statement="FedDetect false alarms",
                             source=SOURCE, paper_value="", reason=f"needs {defense} in fedgan.defenses")
    flags = v.flag_counts()
    fpr = exact_share(flags["benign_hits"], flags["benign_rounds"])
    return make_claim(
        claim_id, title=f"{name} spares benign clients",
        statement=f"{name} rarely flags benign clients: share of benign client-rounds flagged after the warm-up",
        source=SOURCE, paper_value="the server blocks the malicious clients (and keeps the others)",
        estimate=fpr, rule=at_most(BENIGN_FLAG_MAX, "share of benign client-rounds flagged"),
        gates=[gan_quality_gate(p), enough_cases(flags["benign_rounds"], 30, "benign client-rounds scored",
                                                 fix=FIX_ROUNDS)],
        scale=p.scale, seeds=len(v.runs))


def feddetect_removes_trigger(p: Pooled, defense: str) -> Claim:
    claim_id, name = f"fedgan_c3_{defense}_removes_trigger", DEFENSE_NAMES[defense]
    defended = _share(p, ("patch_trigger", defense))
    if defended is None:
        return not_run_claim(claim_id, title=f"{name} removes trigger", statement="FedDetect trigger share",
                             source=SOURCE, paper_value="", reason=f"needs {defense} in fedgan.defenses")
    drop = p.trigger_difference(ATTACKED, ("patch_trigger", defense))
    spread = p.trigger_difference(ATTACKED, CLEAN)
    return make_claim(
        claim_id, title=f"{name} keeps the trigger out",
        statement=(f"With {name} the shared generator draws the trigger in {defended.value:.3f} "
                   f"[{defended.ci_low:.3f}, {defended.ci_high:.3f}] of {defended.n} samples, less than the "
                   f"undefended attacked federation; {_detector_line(p)}"),
        source=SOURCE, paper_value="after detecting and suppressing the malicious clients FedGANs synthesise "
                                   "high-quality images (abstract)",
        estimate=drop, rule=at_least(0, "undefended minus defended trigger share"),
        parts=[Part("less trigger than undefended", drop, at_least(0, "undefended minus defended trigger share")),
               Part("trigger as rare as without attack", defended,
                    at_most(CLEAN_TRIGGER_MAX, "defended federation's trigger share"))],
        gates=[gan_quality_gate(p), *detector_gates(p),
               gate_at_least("attack spreads the trigger", spread.ci_low, 0.0,
                             "lower 95% bound of attacked minus clean trigger share",
                             basis="a defense can only remove a trigger the attack put in", fix=FIX_ROUNDS)],
        scale=p.scale, seeds=p.n_seeds)


def feddetect_restores_fidelity(p: Pooled, defense: str) -> Claim:
    claim_id, name = f"fedgan_c3_{defense}_restores_fidelity", DEFENSE_NAMES[defense]
    if _defended(p, defense) is None:
        return not_run_claim(claim_id, title=f"{name} restores fidelity", statement="FedDetect fidelity",
                             source=SOURCE, paper_value="", reason=f"needs {defense} in fedgan.defenses")
    key = ("patch_trigger", defense)
    fid, kid = p.difference(key, ATTACKED, "fid"), p.difference(key, ATTACKED, "kid")
    dropped = p.difference(ATTACKED, CLEAN, "fid")
    return make_claim(
        claim_id, title=f"{name} restores fidelity",
        statement=(f"With {name} the federation again synthesises higher-fidelity images: FID and KID, defended "
                   f"minus undefended attacked federation, paired by seed"),
        source=SOURCE, paper_value="FedGANs synthesise high-quality medical images after FedDetect (abstract)",
        estimate=fid, rule=at_most(0, "defended minus undefended FID"),
        parts=[Part("FID", fid, at_most(0, "defended minus undefended FID")),
               Part("KID", kid, at_most(0, "defended minus undefended KID"))],
        gates=[*gan_gates(p), gate_at_least("attack lowers fidelity", dropped.ci_low, 0.0,
                                            "lower 95% bound of attacked minus clean FID",
                                            basis="fidelity can only be restored where the attack lowered it",
                                            fix=FIX_SEEDS)],
        scale=p.scale, seeds=p.n_seeds)


def augmentation_helps(p: Pooled, defense: str = "feddetect_authors") -> Claim:
    claim_id = "fedgan_c3_augmentation_helps"
    v = _defended(p, defense)
    if v is None:
        return not_run_claim(claim_id, title="augmentation helps", statement="downstream augmentation",
                             source=SOURCE, paper_value="", reason=f"needs {defense} in fedgan.defenses")
    gain = p.auc_gain(defense)
    converged = all(bool(r["augmented_converged"]) for r in v.runs) and all(
        bool(p.evaluators[f"real_converged_{s}"]) for s in v.seeds)
    return make_claim(
        claim_id, title="synthetic augmentation helps",
        statement=(f"Synthetic images from the {DEFENSE_NAMES[defense]} federation improve a diagnostic classifier "
                   f"as augmentation: test AUC of real plus synthetic minus real only (both trained to "
                   f"convergence, early stopping on the real validation split), paired by seed"),
        source=SOURCE, paper_value="synthetic data as augmentation improves classification performance (abstract)",
        estimate=gain, rule=at_least(0, "AUC gain from augmentation"),
        gates=[*gan_gates(p), gate_at_least("downstream classifiers converged", float(converged), 1.0,
                                            "every real-only and augmented classifier stopped early (1 = yes)",
                                            fix="fedgan.evaluators.max_epochs")],
        scale=p.scale, seeds=len(v.runs))


def judge_all(p: Pooled, defenses: Sequence[str] = ("feddetect", "feddetect_authors")) -> list[Claim]:
    claims = [trigger_spreads(p), fidelity_drops(p), generator_loss_rises(p), discriminator_overfits(p),
              damage_spreads(p)]
    for defense in defenses:
        claims += [feddetect_flags_attacker(p, defense), feddetect_spares_benign(p, defense),
                   feddetect_removes_trigger(p, defense), feddetect_restores_fidelity(p, defense)]
    return claims + [augmentation_helps(p)]
