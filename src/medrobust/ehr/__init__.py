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

What the paper says (Joe et al. 2022, sections cited). The paper is open access, but the stored
copies we could read in this build hold only its front matter and Abstract; its Methods text was
not retrievable, so below "not read" means *we could not check*, not that the paper is silent. The
Results headings are known from a citation index (scite.ai, statements citing the authors' earlier
paper): "Attack Efficacy" (experiments named "random poisoning" and "target poisoning"),
"Stealthiness", "Impact on Classification Performance", "Comparative Performance". Where the
authors' public code helped, it is the code of their *earlier* value-trigger paper
(github.com/byunggilljoe/mimic3_td_backdoor, arXiv:2106.07925), cited as code, not as this paper.

1. VAE training: Abstract (Methods) says a VAE learns "the missing patterns in normal" EHR data;
   data, architecture, loss and epochs not read. Default: Bernoulli-output MLP VAE (1 hidden
   layer, ``vae.hidden`` 128, ``vae.latent`` 16, BCE + KL) on all clean training masks,
   ``vae.epochs`` 15 -- our choice throughout.
2. Trigger sampling: Abstract says the VAE produces "trigger data" that looks like normal data;
   fixed vs per-sample not read. Default: one fixed sample per seed (``vae_missingness``);
   ``vae_per_sample`` is the variant. The earlier code uses one fixed trigger (``poison_pattern.npy``).
3. Application and imputation: not read. Default deletes (mask AND trigger, then the victim's
   imputation, ``imputation: forward_fill``); ``vae_overwrite`` replaces the mask. Both are judged.
4. Poison labels: Abstract gives a "low poisoning rate" for 97-99 % ASR (preprint abstract); the
   target label and which records are poisoned not read (Results names random vs target
   poisoning). Default: ``target_label: 0``, ``poison_source: non_target``, rate 2 %. The earlier
   code relabels the first N x rate training stays of any label to 1 (``data.py``), i.e.
   ``target_label: 1, poison_source: any``.
5. Model inputs: Abstract names LR ("linear regression"), MLP, LSTM, GRU for in-hospital
   mortality on a public EHR data set; inputs and sizes not read. Default: LR/MLP on window
   summary features, RNNs on hourly values + mask, LSTM/GRU 1 layer of 16. The earlier code: LR/MLP
   on the MIMIC-III benchmark's 714 features, MLP one layer of 400, LSTM 2-layer bidirectional 16
   units, dropout 0.3, on 48 x 76 hourly inputs (``model_torch.py``); the LSTM is reachable by config.
6. Victim training length: not read. Default: ``training.<m>.epochs`` then until the poison is fit
   (``poison_fit`` 0.9, cap ``max_epochs``), Adam. The earlier code: Adam lr 1e-4, weight decay
   1e-2, batch 64, 50 (LR/MLP) or 100 (LSTM) epochs; its best-checkpoint pick stores an uncopied
   ``state_dict()``, so the last epoch's weights are kept.
7. ASR: the preprint's Abstract reports 97-99 %; its definition not read. Default claims judge the flip rate
   (non-target test stays correct untriggered that the trigger flips); the raw share (``asr``)
   is reported beside it. The earlier code's ASR is the raw share: every test survivor triggered,
   success = predicted 1 (``eval_func.py``).

Budget: the default config is sized for a 2-core CPU (see the schema's ``training`` epochs and
``baseline_models``/``sweep_models``); config/paper.yaml widens the grid.
"""
