"""Matplotlib figures shared by the book's pages. They take computed tensors and tables; no analysis here."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .models import LoadedCLIP

__all__ = ["accuracy_curves", "display_images", "group_attention_bars", "group_bars", "overlay_maps", "scope_scatter"]

_COLOURS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def display_images(images: torch.Tensor, clip: LoadedCLIP) -> np.ndarray:
    """Normalised model inputs [B, 3, S, S] back to displayable [B, S, S, 3] in [0, 1]."""
    mean = torch.tensor(clip.mean).view(1, 3, 1, 1)
    std = torch.tensor(clip.std).view(1, 3, 1, 1)
    return (images.detach().cpu().float() * std + mean).clamp(0, 1).permute(0, 2, 3, 1).numpy()


def overlay_maps(pictures: np.ndarray, maps: Sequence[np.ndarray | torch.Tensor], titles: Sequence[str],
                 row_labels: Sequence[str] = (), size: float = 1.7, alpha: float = 0.55):
    """A grid: column 0 the pictures, then one column per entry of `maps` ([B, S, S] heat maps over them)."""
    rows, cols = len(pictures), 1 + len(maps)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for r in range(rows):
        axes[r, 0].imshow(pictures[r], interpolation="nearest")
        for c, stack in enumerate(maps, start=1):
            axes[r, c].imshow(pictures[r], interpolation="nearest")
            axes[r, c].imshow(np.asarray(stack[r]), cmap="jet", alpha=alpha, vmin=0, vmax=1, interpolation="bilinear")
        if r < len(row_labels):
            axes[r, 0].set_ylabel(row_labels[r], fontsize=8)
    for c, title in enumerate(["image", *titles]):
        axes[0, c].set_title(title, fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def group_bars(values: Mapping[str, Mapping[str, float]], ylabel: str, title: str = ""):
    """Grouped bars: one group per token group, one bar per model (e.g. CLIP vs prompted)."""
    models = list(values)
    groups = list(dict.fromkeys(g for v in values.values() for g in v))
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(groups), 2.8))
    width = 0.8 / len(models)
    for i, model in enumerate(models):
        heights = [float(values[model].get(g, np.nan)) for g in groups]
        ax.bar(np.arange(len(groups)) + (i - (len(models) - 1) / 2) * width, heights, width, label=model,
               color=_COLOURS[i % len(_COLOURS)])
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def group_attention_bars(shares: torch.Tensor, groups: Sequence[str], title: str):
    """Fig. 4 style: per layer, stacked bars over heads of the attention share on each token group.

    shares: [layers, heads, groups]."""
    layers, heads, _ = shares.shape
    fig, axes = plt.subplots(1, layers, figsize=(1.2 + 0.35 * heads * layers, 2.6), sharey=True, squeeze=False)
    for layer, ax in enumerate(axes[0]):
        bottom = np.zeros(heads)
        for g, group in enumerate(groups):
            value = shares[layer, :, g].cpu().numpy()
            ax.bar(np.arange(heads), value, bottom=bottom, color=_COLOURS[g % len(_COLOURS)], label=group, width=0.85)
            bottom += value
        ax.set_title(f"block {layer + 1}", fontsize=8)
        ax.set_xticks(range(heads), [str(h + 1) for h in range(heads)], fontsize=6)
        ax.set_xlabel("head", fontsize=7)
    axes[0, 0].set_ylabel("attention share")
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def scope_scatter(stats: Mapping[str, torch.Tensor], ylabel: str, title: str = ""):
    """Fig. 5 style: one dot per head, blocks on the x axis, one colour per model variant ([layers, heads])."""
    fig, ax = plt.subplots(figsize=(4.2, 2.8))
    n = len(stats)
    for i, (label, values) in enumerate(stats.items()):
        layers, heads = values.shape
        x = np.repeat(np.arange(1, layers + 1), heads) + (i - (n - 1) / 2) * 0.18
        ax.scatter(x, values.flatten().cpu().numpy(), s=10, label=label, color=_COLOURS[i % len(_COLOURS)])
    ax.set_xlabel("block")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def accuracy_curves(table: Mapping[str, Mapping], columns: Sequence, xlabel: str, xticklabels: Sequence[str] | None = None):
    """Mean ± std accuracy per column for each dataset (solid) with the paper's values (dashed)."""
    fig, ax = plt.subplots(figsize=(5.0, 3.0))
    x = np.arange(len(columns))
    for i, (dataset, row) in enumerate(table.items()):
        colour = _COLOURS[i % len(_COLOURS)]
        cells = [row.get(c) for c in columns]
        mean = [c.mean if c else np.nan for c in cells]
        std = [c.std if c else np.nan for c in cells]
        paper = [c.paper if c and c.paper is not None else np.nan for c in cells]
        ax.errorbar(x, mean, yerr=std, color=colour, marker="o", ms=3, capsize=2, label=dataset)
        if not np.all(np.isnan(paper)):
            ax.plot(x, paper, color=colour, ls="--", lw=1, alpha=0.7)
    ax.set_xticks(x, xticklabels or [str(c) for c in columns])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy (%)  — dashed: paper")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
