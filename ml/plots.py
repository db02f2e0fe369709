"""Training and evaluation figures: learning curves, confusion matrix, ROC and DET curves.

DET curves plot BPCER against APCER on normal-deviate (probit) axes, as ISO/IEC 19795-1 and
30107-3 recommend: the low-error corner that matters for security is stretched out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm

from ml.metrics import _curve

_DET_TICKS = [0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95]


def learning_curves(history: Mapping[str, Sequence[float]], path: Path) -> Path:
    """Loss and accuracy (and validation EER if logged) per epoch."""
    keys = [k for k in ("loss", "accuracy", "val_eer") if k in history]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.5))
    for ax, key in zip(np.atleast_1d(axes), keys, strict=True):
        ax.plot(history[key], label=f"train {key}" if not key.startswith("val") else key)
        val_key = f"val_{key}"
        if val_key in history:
            ax.plot(history[val_key], label=val_key)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def confusion(scores: np.ndarray, labels: np.ndarray, threshold: float, path: Path) -> Path:
    """2x2 confusion matrix at ``threshold`` (rows: truth, columns: decision)."""
    pred = scores >= threshold
    m = np.array(
        [[np.sum(~pred & (labels == 0)), np.sum(pred & (labels == 0))], [np.sum(~pred & (labels == 1)), np.sum(pred & (labels == 1))]]
    )
    fig, ax = plt.subplots(figsize=(3.8, 3.4))
    ax.imshow(m, cmap="Blues")
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, str(int(v)), ha="center", va="center", color="black")
    ax.set_xticks([0, 1], ["spoof", "live"])
    ax.set_yticks([0, 1], ["attack", "bona fide"])
    ax.set_xlabel("decision")
    ax.set_ylabel("truth")
    ax.set_title(f"threshold {threshold:.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def roc_det(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], roc_path: Path, det_path: Path) -> tuple[Path, Path]:
    """ROC (1-BPCER vs APCER) and DET (BPCER vs APCER, probit axes) for one or more score sets."""
    fig_r, ax_r = plt.subplots(figsize=(4.5, 4.2))
    fig_d, ax_d = plt.subplots(figsize=(4.5, 4.2))
    clip = 1e-4
    for name, (scores, labels) in curves.items():
        _, ap, bp = _curve(scores, labels)
        ax_r.plot(ap, 1 - bp, label=name)
        ax_d.plot(norm.ppf(np.clip(ap, clip, 1 - clip)), norm.ppf(np.clip(bp, clip, 1 - clip)), label=name)
    ax_r.plot([0, 1], [0, 1], ":", color="grey")
    ax_r.set_xlabel("APCER (attacks accepted)")
    ax_r.set_ylabel("1 - BPCER (bona fide accepted)")
    ax_r.set_title("ROC")
    ax_r.legend(fontsize=8)
    ticks = norm.ppf(_DET_TICKS)
    labels_txt = [f"{t * 100:g}%" for t in _DET_TICKS]
    ax_d.set_xticks(ticks, labels_txt)
    ax_d.set_yticks(ticks, labels_txt)
    ax_d.set_xlim(ticks[0], ticks[-1])
    ax_d.set_ylim(ticks[0], ticks[-1])
    ax_d.set_xlabel("APCER")
    ax_d.set_ylabel("BPCER")
    ax_d.set_title("DET")
    ax_d.grid(True, alpha=0.3)
    ax_d.legend(fontsize=8)
    for fig, path in ((fig_r, roc_path), (fig_d, det_path)):
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return roc_path, det_path
