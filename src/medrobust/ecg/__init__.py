"""Study ecg: smoothed adversarial ECGs (Han et al., "Deep learning models for electrocardiograms
are susceptible to adversarial attack", Nat Med 2020;26:360-363) on PhysioNet/CinC 2017, and the
defenses against them.

Attacks: :mod:`.pgd` (and :mod:`.art_pgd`, the ART cross-check), :mod:`.sap`, :mod:`.new_examples`.
Defenses: :mod:`.preprocessing` (low-pass and median filters), :mod:`.hf_energy` and
:mod:`.learned_detector` (input checks), :mod:`.adversarial_training`, :mod:`.randomized_smoothing`.
Victim and data: :mod:`.model`, :mod:`.train`, :mod:`.split`. Measures: :mod:`.smoothness`.
Jobs, results and figures: :mod:`.experiment`, :mod:`.collect`, :mod:`.figures`.
"""
