"""Study enhancement: gradient-based enhancement attacks that falsely inflate accuracy, and the checks
that catch them.

Reproduces Rosenblatt, Dadashkarimi & Scheinost, "Gradient-based enhancement attacks in biomedical
machine learning" (arXiv 2301.01885; FAIMI/EPIMI 2023, LNCS 14242), with the pattern-injection baseline
of Rosenblatt et al., "Connectome-based machine learning models are vulnerable to subtle data
manipulations" (Patterns 2023, doi:10.1016/j.patter.2023.100756), on per-stay summary features of
PhysioNet/CinC 2012 (:mod:`medrobust.data.stay_features`).

Modules: :mod:`tasks` (the chance-level and mortality tasks), :mod:`correlation_constraint` (the
per-subject Pearson r >= target shrink every attack shares), :mod:`mutable_cells` (the cells an
attacker may alter without breaking ties), :mod:`surrogates` (the attacker's numpy models), the attacks
:mod:`general_enhancement`, :mod:`pattern_injection`, :mod:`method_specific` and their r sweep
:mod:`sweep`, the victims' :mod:`evaluation`, the checks :mod:`provenance`, :mod:`distribution_qc`,
:mod:`external_validation`, :mod:`label_screening` (run together by :mod:`defenses`), and
:mod:`collect` / :mod:`figures` for the result files.
"""
