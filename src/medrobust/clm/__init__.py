"""Study clm: BadCLM, the attention-based backdoor of clinical language models (Lyu et al., AMIA 2024),
against plain trigger poisoning, and the text-backdoor defenses around it.

Attacks: :mod:`~medrobust.clm.triggers`, :mod:`~medrobust.clm.badnets`, :mod:`~medrobust.clm.badclm`.
Victim: :mod:`~medrobust.clm.finetune`. Defenses: :mod:`~medrobust.clm.onion`, :mod:`~medrobust.clm.strip`,
:mod:`~medrobust.clm.attention_check`, :mod:`~medrobust.clm.fine_tuning`, :mod:`~medrobust.clm.fine_pruning`.
Workflow glue: :mod:`~medrobust.clm.corpus`, :mod:`~medrobust.clm.experiment`, :mod:`~medrobust.clm.collect`,
:mod:`~medrobust.clm.figures`. The text is serialised structured EHR by default, not clinical notes.
"""
