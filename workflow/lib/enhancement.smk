# Functions the enhancement rules (workflow/rules/enhancement.smk) compute their targets with.


def enh_attack_settings(attack):
    """The attack's config block; the unconstrained variant shares method_specific's (its freedoms are set in code)."""
    block = "method_specific" if attack == "method_specific_unconstrained" else attack
    return {**ENH[block], "max_shared": ENH["max_shared"], "keep_range": ENH["keep_range"]}


def enh_attack_targets(attack, draw):
    """The target rs of one attack in one draw: every target in the first `sweep_draws` draws, only those the
    claims are judged at (the headline r and above) in the others; the unconstrained variant, reported
    beside the headline claim, at the headline r only."""
    headline = ENH["headline_target"]
    if attack == "method_specific_unconstrained":
        return [headline]
    return ENH["targets"] if int(draw) <= ENH["sweep_draws"] else [t for t in ENH["targets"] if t >= headline]


def enh_draw_attacks(wc):
    return expand(ENH_ATTACKS, draw=wc.enh_draw, task=wc.enh_task, attack=ENH["attacks"])


def enh_per_draw(name):
    return expand(f"{ENH_DIR}/draw{{draw}}/{{task}}/{name}", draw=ENH_DRAWS, task=ENH["tasks"])
