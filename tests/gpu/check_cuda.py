"""Run every torch study's jobs under config/paper.yaml on a CUDA GPU, shortened, and time them.

Not a pytest test (CI has no GPU): a developer runs it on a GPU machine to check that the paper-scale
settings work on CUDA (models, attacks and defenses on the GPU, bf16 autocast where the GPU has it)
and to see what a step costs there. It calls the same library functions as the rules' scripts, with
config/config.yaml + config/paper.yaml validated against the schema, and then shortens only the
number of passes (epochs, rounds, sizes) given in SHORTEN so it fits a 10-minute call.

Usage: python tests/gpu/check_cuda.py DATA_DIR [study ...]
DATA_DIR holds ecg.npz (an EcgSet, e.g. a subset of results/data/challenge2017/ecg.npz),
pneumoniamnist.npz (the MedMNIST file) and cohort.npz (results/data/challenge2012/cohort.npz).
Prints one line per step: study, step, seconds, peak GPU memory; exits 1 if CUDA is not used.
"""
from __future__ import annotations

import copy
import logging
import sys
import time
from pathlib import Path

import torch
import yaml

from medrobust.config import load_schema, validate
from medrobust.core.seeding import seed_everything, torch_device

ROOT = Path(__file__).resolve().parents[2]
# Only repetitions are cut; model sizes, crop lengths, batch sizes and eps stay at paper scale.
SHORTEN = {
    "ehr": {"seeds": 1, "training": {"lstm": {"epochs": 3}, "gru": {"epochs": 3}}, "vae": {"epochs": 3}},
    "ecg": {"n_attack": 128, "train": {"epochs": 2},
            "defenses": {"detectors": {"n_fit": 200, "n_calibration": 200, "epochs": 2},
                         "adversarial_training": {"epochs": 1},
                         "randomized_smoothing": {"epochs": 1, "n_certify": 128, "n": 1000, "n_predict": 100}}},
    "fedgan": {"rounds": 4, "checkpoints": 1, "final_checkpoints": 1, "evaluators": {"max_epochs": 2}},
    # The MiniLM weights (90 MB) cannot travel to the GPU machine; the random BERT runs the same code.
    "clm": {"model": "tiny-random-bert", "sizes": {"train": 2000, "val": 200, "test": 500},
            "training": {"epochs": 1}, "n_detect": 100},
}


def paper_config() -> dict:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    _merge(config, yaml.safe_load((ROOT / "config" / "paper.yaml").read_text()))
    _merge(config, copy.deepcopy(SHORTEN))
    return validate(config, load_schema(ROOT / "workflow" / "schemas"), environ={})


def _merge(base: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


class Steps:
    def __init__(self, study: str):
        self.study = study

    def __call__(self, name, fn, *args):
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn(*args)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
        print(f"{self.study:7s} {name:28s} {time.perf_counter() - start:8.1f} s  peak {peak:8.0f} MiB", flush=True)
        return out


def check_ecg(cfg: dict, data: Path, device: str) -> None:
    from medrobust.data.challenge2017 import read_ecgset
    from medrobust.ecg import experiment
    from medrobust.ecg.split import Prepared, run_prepare

    step, ecg = Steps("ecg"), cfg["ecg"]
    ecgset = read_ecgset(data / "ecg.npz")
    prepared = Prepared.from_arrays(run_prepare(ecgset, ecg, cfg["seed"]))
    model, _ = step(f"train ({ecg['model']['architecture']}, {ecg['crop_seconds']:g} s)", experiment.run_train, ecgset, prepared, ecg, cfg["seed"], device)
    assert next(model.parameters()).is_cuda
    attacks = step("attacks (PGD, SAP, ART)", experiment.run_attacks, prepared, model, ecg, cfg["seed"], device)
    for name in experiment.DEFENSES:
        stored = attacks if name in ("preprocessing", "detectors") else None
        step(f"defense {name}", experiment.run_defense, name, ecgset, prepared, model, stored, ecg, cfg["seed"], device)


def check_fedgan(cfg: dict, data: Path, device: str) -> None:
    from medrobust.data.medmnist_npz import load
    from medrobust.fedgan.collect import pool
    from medrobust.fedgan.experiment import run_variant, train_evaluators
    from medrobust.fedgan.images import image_splits

    step, fg = Steps("fedgan"), cfg["fedgan"]
    images = image_splits(load(data / f"{fg['flag']}.npz", fg["flag"], 28), fg["flag"])
    evaluators = step("evaluators", train_evaluators, images, fg, cfg["seed"], device)
    runs = [step(f"federation {defense}", run_variant, images, fg, "patch_trigger", defense, 0, cfg["seed"], device)
            for defense in ["none"] + list(fg["defenses"])]
    step("collect (scoring)", pool, runs, evaluators, fg, fg["flag"], cfg["seed"], device)


def check_clm(cfg: dict, data: Path, device: str) -> None:
    from medrobust.clm.corpus import build_corpus, corpus_texts
    from medrobust.clm.experiment import run_job

    step, clm = Steps("clm"), cfg["clm"]
    corpus = build_corpus(clm, cfg["seed"], str(data / "cohort.npz"))
    texts = corpus_texts(corpus, None, clm["notes"])
    for attack in ("none", "badclm"):
        step(f"run {attack}", run_job, corpus, texts, clm, attack, 0.0 if attack == "none" else 0.1, 0,
             cfg["seed"], device)


def check_ehr(cfg: dict, data: Path, device: str) -> None:
    from medrobust.data.cohort import read_cohort
    from medrobust.ehr.experiment import run_job
    from medrobust.ehr.preprocess import Prepared, prepare
    from medrobust.ehr.triggers import make_triggers

    step, ehr = Steps("ehr"), cfg["ehr"]
    split = ehr["split"]
    prepared = Prepared.from_arrays(prepare(read_cohort(data / "cohort.npz"), (split["train"], split["val"]),
                                            cfg["seed"]).to_arrays())
    triggers = step("triggers (VAE)", make_triggers, prepared, cfg["seed"], ehr["seeds"], ehr["vae"],
                    ehr["value_trigger_scale"], logging.getLogger("ehr"))
    for model in ehr["models"]:
        step(f"job {model}", run_job, prepared, triggers, ehr, model, 0, cfg["seed"], 200, device)


CHECKS = {"ecg": check_ecg, "fedgan": check_fedgan, "clm": check_clm, "ehr": check_ehr}


def main(argv: list[str]) -> int:
    device = torch_device()
    if device != "cuda":
        print("torch sees no GPU: nothing checked", file=sys.stderr)
        return 1
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}; bf16 {torch.cuda.is_bf16_supported()}")
    cfg, data = paper_config(), Path(argv[0])
    for study in argv[1:] or list(CHECKS):
        seed_everything(cfg["seed"], False)
        CHECKS[study](cfg, data, device)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
