"""Study fedgan: a backdoor in a federated conditional GAN for medical image synthesis, and its defenses.

Jin & Li, "Backdoor attack and defense in federated generative adversarial network-based medical
image synthesis", Medical Image Analysis 2023;90:102965 (earlier: "Backdoor Attack is a Devil in
Federated GAN-based Medical Image Synthesis", SASHIMI 2022).

* :mod:`~medrobust.fedgan.images` MedMNIST arrays as tensors (any 2D flag)
* :mod:`~medrobust.fedgan.cgan` the clients' conditional DCGAN
* :mod:`~medrobust.fedgan.trigger` the attack: a corner patch on the malicious client's images
* :mod:`~medrobust.fedgan.federation` K clients in one process, FedAvg of generators
* :mod:`~medrobust.fedgan.feddetect` FedDetect as medrobust reads it: outliers in windowed losses
* :mod:`~medrobust.fedgan.feddetect_authors` FedDetect as the authors coded it
* :mod:`~medrobust.fedgan.robust_aggregation` coordinate-wise median, trimmed mean, Krum
* :mod:`~medrobust.fedgan.wgan_gp` local regularisation: the WGAN-GP objective
* :mod:`~medrobust.fedgan.fidelity` FID and KID (torchmetrics) on a converged classifier's features,
  precision/recall, label agreement
* :mod:`~medrobust.fedgan.trigger_detector` share of synthetic images carrying the trigger
* :mod:`~medrobust.fedgan.downstream` diagnostic classifier on real vs real + synthetic images
* :mod:`~medrobust.fedgan.experiment`, :mod:`~medrobust.fedgan.scoring`, :mod:`~medrobust.fedgan.collect`,
  :mod:`~medrobust.fedgan.claims`, :mod:`~medrobust.fedgan.figures` the study's jobs, the scoring of
  their stored samples, the pooled metrics, the judged claims, the figures
"""
