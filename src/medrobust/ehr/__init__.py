"""Study ``ehr``: the missing-value-pattern backdoor on ICU mortality models, and its defenses.

Reproduces Joe, Park, Hamm, Shin & Lee, "Exploiting Missing Value Patterns for a Backdoor Attack
on Machine Learning Models of Electronic Health Records", JMIR Med Inform 2022;10(8):e38440
(https://doi.org/10.2196/38440), on the open PhysioNet/CinC 2012 cohort by default (the paper used
MIMIC-III), and measures input checks, training-set sanitisation, a mask-blind model and
fine-tuning/fine-pruning against it.

Modules (one step, attack or defense each):

* :mod:`~medrobust.ehr.preprocess`: split, train-only normalisation, imputation, summary features;
* :mod:`~medrobust.ehr.models`: the LR, MLP, LSTM and GRU victims (torch);
* attacks: :mod:`~medrobust.ehr.missingness_vae` (the paper's VAE trigger, fixed and per-sample),
  :mod:`~medrobust.ehr.random_missingness`, :mod:`~medrobust.ehr.value_perturbation`;
  :mod:`~medrobust.ehr.triggers` draws them per seed, :mod:`~medrobust.ehr.poisoning` poisons;
* defenses: :mod:`~medrobust.ehr.mask_plausibility`, :mod:`~medrobust.ehr.value_outliers` (input
  checks), :mod:`~medrobust.ehr.activation_clustering`, :mod:`~medrobust.ehr.spectral_signatures`
  (sanitisation, through ART), :mod:`~medrobust.ehr.mask_blind`, :mod:`~medrobust.ehr.fine_pruning`;
* :mod:`~medrobust.ehr.input_checks`, :mod:`~medrobust.ehr.experiment` (one model x seed job),
  :mod:`~medrobust.ehr.evaluation` (bootstrap), :mod:`~medrobust.ehr.collect` (metrics and claims),
  :mod:`~medrobust.ehr.figures`.

Rule granularity (``workflow/rules/ehr.smk``): ``ehr_prepare`` -> ``ehr_triggers`` (attacker VAE) ->
``ehr_input_checks`` (defender's checks, fitted once) -> ``ehr_train`` (one job per model and
seed: clean model, poisoned models, defenses) -> ``ehr_collect`` -> ``ehr_figures``.

How the trigger is chosen and applied (what we could and could not pin down): the published
abstract states that a VAE learns the missing patterns of normal records and produces triggers
that look like them. The full methods text was not available to us while building this study,
so the sampling follows the standard VAE recipe (z from the prior, decoded probabilities, one
Bernoulli draw per cell) and the application follows the study's issue: observed values that
the trigger marks missing are deleted and re-imputed (``vae_missingness``). Because the reported
97-99 % depends on this step, the study also runs ``vae_overwrite``, where the record's mask
*becomes* the trigger (cells the trigger marks observed take the forward-filled value). The
two are reported side by side; neither is tuned toward the paper.

Budget: the default config is sized for a 2-core CPU (see the schema's ``training`` epochs and
``baseline_models``/``sweep_models``); config/paper.yaml widens the grid.
"""
