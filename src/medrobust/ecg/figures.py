"""The ecg study's figures, drawn from stored results only (never retrains).

* ``iconic``: a clean test ECG, its PGD and SAP versions at the headline eps and the two
  perturbations, with the victim's prediction and confidence in each title, and a zoom on the
  flattest quarter second of the ECGs, where PGD's square waves show (Han et al.'s Fig. 1 layout, our own ECG: the first
  known-correct ECG both attacks flip).
* ``asr_vs_eps``: ASR against eps per attack, one line per defense, Wilson CIs.
* ``smoothness``: the perturbations' high-frequency energy share and total variation per eps.
* ``detection_roc``: ROC curves of each detector, PGD and SAP, at the headline eps.
* ``defense_matrix``: ASR at the headline eps, attacks by defenses (the report's matrix).
* ``certified_accuracy``: randomized smoothing's certified accuracy against L2 radius.
* ``confusion``: the victim's confusion matrix on the test split (counts, and shares of each true
  class), with its per-class and challenge F1 in the title.
"""
from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from medrobust.core.io import atomic_path  # noqa: E402
from medrobust.core.records import format_setting  # noqa: E402
from medrobust.ecg.split import CLASSES  # noqa: E402
from medrobust.report.figures import plot_defense_matrix  # noqa: E402

FIGURES = ("iconic", "asr_vs_eps", "smoothness", "detection_roc", "defense_matrix", "certified_accuracy",
           "confusion")
DEFENSE_ORDER = ("none", "lowpass", "median", "hf_energy", "learned_detector", "adversarial_training",
                 "randomized_smoothing")


def draw_all(metrics: pd.DataFrame, prepared: dict, attacks: dict, detectors: dict | None,
             smoothing: dict | None, headline_eps: float, fs: int, outputs: dict[str, str | os.PathLike]) -> None:
    iconic(prepared, attacks, headline_eps, fs, outputs["iconic"])
    asr_vs_eps(metrics, outputs["asr_vs_eps"])
    smoothness(metrics, outputs["smoothness"])
    detection_roc(detectors, attacks, headline_eps, outputs["detection_roc"])
    defense_matrix(metrics, headline_eps, outputs["defense_matrix"])
    certified_accuracy(smoothing, prepared, attacks, outputs["certified_accuracy"])
    confusion(metrics, outputs["confusion"])


def _save(fig: Figure, out_png) -> None:
    fig.tight_layout()
    with atomic_path(out_png, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})


def _placeholder(text: str, out_png) -> None:
    fig = Figure(figsize=(6, 2))
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    _save(fig, out_png)


def _title(prob: np.ndarray) -> str:
    c = int(prob.argmax())
    return f"{CLASSES[c]} ({prob[c]:.2f})"


def iconic(prepared: dict, attacks: dict, eps: float, fs: int, out_png) -> None:
    eps_list = [float(e) for e in attacks["eps"]]
    if eps not in eps_list or len(attacks["pos"]) == 0:
        return _placeholder("no attacked ECG at the headline eps", out_png)
    i = eps_list.index(eps)
    pos = attacks["pos"]
    y = prepared["y_test"][pos]
    both = np.flatnonzero((attacks["prob_pgd"][i].argmax(1) != y) & (attacks["prob_sap"][i].argmax(1) != y))
    j = int(both[0]) if len(both) else 0
    first = int(prepared["test_start"][pos[j]]) if "test_start" in prepared else 0
    n = int(min(prepared["test_length"][pos[j]], prepared["x_test"].shape[1]))
    x = prepared["x_test"][pos[j], first:first + n]
    t = np.arange(n) / fs
    d_pgd, d_sap = attacks["delta_pgd"][i, j, first:first + n], attacks["delta_sap"][i, j, first:first + n]
    fig = Figure(figsize=(12, 7.5))
    axes = fig.subplots(3, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    rows = [("clean", x[:n], attacks["prob_clean"][j]), ("PGD", x[:n] + d_pgd, attacks["prob_pgd"][i, j]),
            ("SAP", x[:n] + d_sap, attacks["prob_sap"][i, j])]
    for ax, (name, signal, prob) in zip(axes[:, 0], rows):
        ax.plot(t, signal, lw=0.6, color="black")
        ax.set_title(f"{name}: predicted {_title(prob)}; true {CLASSES[int(y[j])]}", fontsize=9)
        ax.set_ylabel("ADC units")
    axes[-1, 0].set_xlabel("time (s)")
    for ax, (name, d, colour) in zip(axes[:2, 1], (("PGD", d_pgd, "tab:red"), ("SAP", d_sap, "tab:blue"))):
        ax.plot(t, d, lw=0.5, color=colour)
        ax.set_ylim(-1.2 * eps, 1.2 * eps)
        ax.set_title(f"{name} perturbation (eps={eps:g})", fontsize=9)
    # Zoom on the flattest 0.25 s of the clean ECG, where PGD's steps show on the signal itself.
    w = max(2, min(n, int(0.25 * fs)))
    spread = [np.ptp(x[s:s + w]) for s in range(0, n - w + 1, max(1, w // 5))]
    start = int(np.argmin(spread)) * max(1, w // 5)
    zoom = slice(start, start + w)
    ax = axes[2, 1]
    ax.plot(t[zoom], x[:n][zoom], lw=1.0, color="black", label="clean")
    ax.step(t[zoom], (x[:n] + d_pgd)[zoom], where="mid", lw=0.8, color="tab:red", label="PGD")
    ax.plot(t[zoom], (x[:n] + d_sap)[zoom], lw=1.2, color="tab:blue", label="SAP")
    ax.set_title("zoom: the ECGs over the flattest 0.25 s", fontsize=9)
    ax.set_xlabel("time (s)")
    ax.legend(fontsize=8, loc="upper right")
    _save(fig, out_png)


def _yerr(d: pd.DataFrame) -> np.ndarray:
    """Asymmetric error bars from the CI columns (0 where a CI is missing or rounds inside)."""
    err = np.array([d["value"] - d["ci_low"], d["ci_high"] - d["value"]], dtype=float)
    return np.clip(np.nan_to_num(err), 0, None)


def _eps(frame: pd.DataFrame) -> pd.Series:
    return frame["setting"].str.extract(r"eps=([0-9.eE+-]+)")[0].astype(float)


def asr_vs_eps(metrics: pd.DataFrame, out_png) -> None:
    rows = metrics[(metrics["metric"] == "asr") & metrics["attack"].isin(["pgd", "sap", "pgd_art"])].copy()
    if not len(rows):
        return _placeholder("no ASR rows", out_png)
    rows["eps"] = _eps(rows)
    fig = Figure(figsize=(11, 4.2))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, attack in zip(axes, ("pgd", "sap")):
        part = rows[rows["attack"] == attack]
        if attack == "pgd":
            part = pd.concat([part, rows[rows["attack"] == "pgd_art"].assign(defense="none (ART's PGD)")])
        order = [d for d in DEFENSE_ORDER if d in set(part["defense"])] + \
            sorted(set(part["defense"]) - set(DEFENSE_ORDER))
        for defense in order:
            d = part[part["defense"] == defense].sort_values("eps")
            ax.errorbar(d["eps"], d["value"], yerr=_yerr(d),
                        marker="o", ms=3, capsize=2, lw=1, label=defense,
                        ls="--" if "ART" in defense else "-")
        ax.set_xscale("log")
        ax.set_xlabel("eps (ADC units, L-infinity)")
        ax.set_title(attack.upper(), fontsize=10)
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("ASR (share of correct ECGs flipped)")
    _save(fig, out_png)


def smoothness(metrics: pd.DataFrame, out_png) -> None:
    rows = metrics[metrics["metric"].isin(["hf_energy_fraction", "total_variation"]) & (metrics["defense"] == "none")].copy()
    if not len(rows):
        return _placeholder("no smoothness rows", out_png)
    rows["eps"] = _eps(rows)
    fig = Figure(figsize=(10, 3.8))
    axes = fig.subplots(1, 2)
    for ax, metric, label in zip(axes, ("hf_energy_fraction", "total_variation"),
                                 ("share of perturbation energy above cutoff", "mean |first difference| (ADC units)")):
        for attack, colour in (("pgd", "tab:red"), ("sap", "tab:blue")):
            d = rows[(rows["metric"] == metric) & (rows["attack"] == attack)].sort_values("eps")
            ax.errorbar(d["eps"], d["value"], yerr=_yerr(d),
                        marker="o", ms=3, capsize=2, color=colour, label=attack.upper())
        ax.set_xscale("log")
        if metric == "total_variation":
            ax.set_yscale("log")
        ax.set_xlabel("eps (ADC units)")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    _save(fig, out_png)


def detection_roc(detectors: dict | None, attacks: dict, eps: float, out_png) -> None:
    if detectors is None:
        return _placeholder("detectors disabled in the config", out_png)
    eps_list = [float(e) for e in attacks["eps"]]
    if eps not in eps_list or len(attacks["pos"]) == 0:
        return _placeholder("no attacked ECG at the headline eps", out_png)
    i = eps_list.index(eps)
    names = [str(n) for n in detectors["detectors"]]
    fig = Figure(figsize=(4.6 * len(names), 4.2))
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, name in zip(axes, names):
        clean = detectors[f"{name}_clean"]
        for kind, colour in (("pgd", "tab:red"), ("sap", "tab:blue")):
            adv = detectors[f"{name}_{kind}"][i]
            fpr, tpr, _ = roc_curve(np.r_[np.zeros(len(clean)), np.ones(len(adv))], np.r_[clean, adv])
            ax.plot(fpr, tpr, color=colour, label=kind.upper())
        ax.plot([0, 1], [0, 1], color="grey", lw=0.5, ls=":")
        ax.axvline(0.05, color="grey", lw=0.5, ls="--")
        ax.set_title(f"{name} (eps={eps:g})", fontsize=10)
        ax.set_xlabel("false-positive rate (clean ECGs)")
        ax.set_ylabel("true-positive rate")
        ax.legend(fontsize=8, loc="lower right")
    _save(fig, out_png)


def defense_matrix(metrics: pd.DataFrame, eps: float, out_png) -> None:
    rows = metrics[(metrics["metric"] == "asr") & (metrics["setting"] == format_setting({"eps": f"{eps:g}"}))]
    if not len(rows):
        return _placeholder("no ASR rows at the headline eps", out_png)
    plot_defense_matrix(rows, "asr", out_png, title=f"ASR at eps={eps:g} (attack x defense)")


def certified_accuracy(smoothing: dict | None, prepared: dict, attacks: dict, out_png) -> None:
    if smoothing is None:
        return _placeholder("randomized smoothing disabled in the config", out_png)
    y = prepared["y_test"][smoothing["pos"]]
    correct = smoothing["pred_certify"] == y
    radius = smoothing["radius"]
    top = max(float(radius.max()) if len(radius) else 1.0, 1.0) * 1.1
    grid = np.linspace(0, top, 200)
    fig = Figure(figsize=(6.5, 4))
    ax = fig.add_subplot()
    ax.plot(grid, [(correct & (radius >= r)).mean() if len(radius) else 0 for r in grid], color="black")
    for e in attacks["eps"]:
        ax.axvline(float(e), color="tab:blue", lw=0.5, ls="--")
    ax.set_xlabel("L2 radius (ADC units)")
    ax.set_ylabel("certified accuracy")
    ax.set_title(f"randomized smoothing, sigma={float(smoothing['sigma']):g}; dashed: eps sweep "
                 f"(an L-inf ball of eps has L2 radius eps*sqrt(L))", fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    _save(fig, out_png)


def confusion(metrics: pd.DataFrame, out_png) -> None:
    rows = metrics[(metrics["metric"] == "confusion") & (metrics["defense"] == "none")]
    if not len(rows):
        return _placeholder("no confusion counts", out_png)
    cells = rows["setting"].str.extract(r"pred=([^;]+);true=([^;]+)")
    counts = np.zeros((len(CLASSES), len(CLASSES)))
    for (pred, true), value in zip(cells.itertuples(index=False), rows["value"]):
        counts[CLASSES.index(true), CLASSES.index(pred)] = value
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    f1s = {m: metrics[(metrics["metric"] == m) & (metrics["defense"] == "none") & (metrics["attack"] == "none")]["value"]
           for m in ("macro_f1", "f1_n", "f1_a", "f1_o")}
    title = "victim on the test split"
    if all(len(v) for v in f1s.values()):
        title += (f": challenge F1 {f1s['macro_f1'].iloc[0]:.3f} (N {f1s['f1_n'].iloc[0]:.2f}, "
                  f"A {f1s['f1_a'].iloc[0]:.2f}, O {f1s['f1_o'].iloc[0]:.2f})")
    fig = Figure(figsize=(5.2, 4.4))
    ax = fig.add_subplot()
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for t in range(len(CLASSES)):
        for q in range(len(CLASSES)):
            ax.text(q, t, f"{int(counts[t, q])}\n{shares[t, q]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if shares[t, q] > 0.6 else "black")
    ax.set_xticks(range(len(CLASSES)), CLASSES)
    ax.set_yticks(range(len(CLASSES)), CLASSES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=8)
    _save(fig, out_png)
