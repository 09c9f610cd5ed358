"""Matplotlib figures of the book's pages. They take computed tensors and tables; no analysis here.

One style for every figure (set when this module is imported): the Okabe–Ito palette, which
stays distinguishable with the common colour-vision deficiencies, constrained layout, and
small fonts sized for the book's column. Each paper figure is one composed figure (a grid over
datasets or blocks); `page.figure` shows it with its number, caption and paper counterpart.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch

from .models import LoadedCLIP

__all__ = ["PALETTE", "accuracy_curves", "block_lines", "class_probabilities", "cls_attention_grid",
           "display_images", "group_attention_grid", "token_relevance", "group_share_grid", "overlay_maps", "position_relevance",
           "rotation_maps", "scope_grid", "training_curves"]

# Okabe & Ito (2008), "Color Universal Design": black first dropped, blue/orange lead.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
mpl.rcParams.update({
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "figure.constrained_layout.use": True,
    # sized for the book's text column (about 7 in at the 100 dpi of `page.figure`): figures are drawn at
    # most 7 in wide, so 9 pt text stays 9 pt on the page
    "figure.dpi": 100,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": "viridis",  # perceptually uniform, readable in grey and with colour-vision deficiencies
})
MODEL_COLOURS = {"CLIP": PALETTE[0], "prompted": PALETTE[1], "deep": PALETTE[1], "shallow": PALETTE[2],
                 "W/O prompt": PALETTE[2], "W prompt": PALETTE[1]}


def _colour(label: str, index: int) -> str:
    return MODEL_COLOURS.get(label, PALETTE[index % len(PALETTE)])


def _grid(n: int, columns: int = 4, width: float = 7.0, height: float = 1.9, **kwargs):
    """`n` panels in rows of `columns`, `width` inches in all (the book's column), `height` per row."""
    cols = min(columns, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width, height * rows), squeeze=False, **kwargs)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def display_images(images: torch.Tensor, clip: LoadedCLIP) -> np.ndarray:
    """Normalised model inputs [B, 3, S, S] back to displayable [B, S, S, 3] in [0, 1]."""
    mean = torch.tensor(clip.mean).view(1, 3, 1, 1)
    std = torch.tensor(clip.std).view(1, 3, 1, 1)
    return (images.detach().cpu().float() * std + mean).clamp(0, 1).permute(0, 2, 3, 1).numpy()


def class_probabilities(picture: np.ndarray, names: Sequence[str], probabilities: Sequence[float], true: str):
    """One test image and its top classes under eq. 9; the true class highlighted."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(5.6, 2.0), gridspec_kw={"width_ratios": [1, 2]})
    left.imshow(picture, interpolation="nearest")
    left.set_axis_off()
    left.set_title(f"true class: {true}")
    order = list(np.argsort(probabilities))
    right.barh([names[i] for i in order], [probabilities[i] for i in order],
               color=[PALETTE[1] if names[i] == true else PALETTE[0] for i in order])
    right.set_xlim(0, 1)
    right.set_xlabel("p(class | image), eq. 9")
    return fig


def overlay_maps(pictures: np.ndarray, maps: Sequence[np.ndarray | torch.Tensor], titles: Sequence[str],
                 row_labels: Sequence[str] = (), size: float = 1.7, alpha: float = 0.55):
    """A grid: column 0 the pictures, then one column per entry of `maps` ([B, S, S] in [0, 1] over them)."""
    rows, cols = len(pictures), 1 + len(maps)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for r in range(rows):
        axes[r, 0].imshow(pictures[r], interpolation="nearest")
        for c, stack in enumerate(maps, start=1):
            axes[r, c].imshow(pictures[r], interpolation="nearest")
            image = axes[r, c].imshow(np.asarray(stack[r]), alpha=alpha, vmin=0, vmax=1, interpolation="bilinear")
        if r < len(row_labels):
            axes[r, 0].set_ylabel(row_labels[r])
    for c, title in enumerate(["image", *titles]):
        axes[0, c].set_title(title)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if len(maps):
        fig.colorbar(image, ax=axes[:, -1].tolist(), shrink=0.8, label="relative value (min–max)")
    return fig


def group_share_grid(shares: Mapping[str, Mapping[str, Mapping[str, float]]], groups: Sequence[str], ylabel: str):
    """One panel per dataset: grouped bars, one group per token group, one bar per model."""
    fig, axes = _grid(len(shares), sharey=True)
    for ax, (dataset, by_model) in zip(axes, shares.items()):
        width = 0.8 / len(by_model)
        for i, (model, values) in enumerate(by_model.items()):
            ax.bar(np.arange(len(groups)) + (i - (len(by_model) - 1) / 2) * width,
                   [values.get(g, np.nan) for g in groups], width, label=model, color=_colour(model, i))
        ax.set_xticks(range(len(groups)), groups, rotation=30)
        ax.set_title(dataset)
    axes[0].set_ylabel(ylabel)
    axes[0].legend()
    return fig


def position_relevance(rows: Mapping[str, Mapping[str, np.ndarray | torch.Tensor]], xlabel: str,
                       boundary: int | None = None, boundary_label: str = ""):
    """Fig. 2 / 3 style: mean relevance per token position, one panel per dataset, one bar colour per model.

    `boundary` draws the paper's red line (e.g. between patches and vision prompts)."""
    fig, axes = _grid(len(rows), columns=2, height=2.2)
    for ax, (dataset, by_model) in zip(axes, rows.items()):
        width = 0.85 / len(by_model)
        for i, (model, values) in enumerate(by_model.items()):
            values = np.asarray(values, dtype=float)
            ax.bar(np.arange(len(values)) + (i - (len(by_model) - 1) / 2) * width, values, width, label=model,
                   color=_colour(model, i))
        if boundary is not None:
            ax.axvline(boundary - 0.5, color=PALETTE[5], lw=1)
            ax.text(boundary - 0.4, ax.get_ylim()[1] * 0.9, boundary_label, color=PALETTE[5], fontsize=6)
        ax.set_title(dataset)
    for ax in axes[::2]:  # the left column
        ax.set_ylabel("mean relevance share")
    fig.supxlabel(xlabel, fontsize=9)  # once: two panels' labels side by side would overlap
    axes[0].legend()
    return fig


def token_relevance(rows: Mapping[str, tuple[Sequence[str], Sequence[float]]]):
    """Texts as the model reads them, each token shaded by its relevance (Figs. 2/3 per position,
    for single texts): rows {label: (tokens, relevance per token)}, shading min–max per row."""
    width = max(len(tokens) for tokens, _ in rows.values())
    fig, axes = plt.subplots(len(rows), 1, figsize=(min(7.0, 0.6 * width), 0.6 * len(rows) + 0.3), squeeze=False)
    cmap = mpl.colormaps["Blues"]
    for ax, (label, (tokens, values)) in zip(axes[:, 0], rows.items()):
        values = np.asarray(values, dtype=float)
        shade = (values - values.min()) / max(np.ptp(values), 1e-12)
        for i, (token, level) in enumerate(zip(tokens, shade)):
            ax.add_patch(mpl.patches.Rectangle((i, 0), 0.96, 1, color=cmap(0.1 + 0.85 * level)))
            ax.text(i + 0.48, 0.5, token, ha="center", va="center", fontsize=8, color="white" if level > 0.6 else "black")
        ax.set_xlim(0, width)
        ax.set_ylim(0, 1)
        ax.set_axis_off()
        ax.set_title(label, loc="left", fontsize=8)
    return fig


def group_attention_grid(shares: Mapping[str, torch.Tensor], groups: Sequence[str], query: str, per_row: int = 6):
    """Fig. 4 style: for each model a band of panels, one per block (at most `per_row` to a row);
    per head a stacked bar of the query's attention on each token group. shares: {model: [layers, heads, groups]}."""
    models = list(shares)
    layers, heads, _ = next(iter(shares.values())).shape
    cols, bands = min(layers, per_row), -(-layers // per_row)
    fig, axes = plt.subplots(len(models) * bands, cols, figsize=(7.0, 1.45 * len(models) * bands + 0.5), sharey=True,
                             squeeze=False)
    for m, model in enumerate(models):
        for layer in range(layers):
            ax, bottom = axes[m * bands + layer // cols, layer % cols], np.zeros(heads)
            for g, group in enumerate(groups):
                value = shares[model][layer, :, g].cpu().numpy()
                ax.bar(np.arange(heads), value, bottom=bottom, color=PALETTE[g % len(PALETTE)], label=group, width=0.85)
                bottom += value
            ax.set_xticks([])
            ax.set_title(f"block {layer + 1}", fontsize=8)
            if layer % cols == 0:  # the model's name on the left of each of its rows
                ax.set_ylabel(model)
        for layer in range(layers, bands * cols):
            axes[m * bands + layer // cols, layer % cols].set_visible(False)
    fig.supylabel(f"{query} attention share per head (bars)", fontsize=9)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels))
    return fig


def block_lines(panels: Mapping[str, Mapping[str, Sequence[float]]], xlabel: str = "block"):
    """One panel per quantity (title → {dataset: value per block}), blocks on the x axis."""
    fig, axes = _grid(len(panels), columns=3, height=2.3)
    for ax, (title, by_dataset) in zip(axes, panels.items()):
        for i, (dataset, values) in enumerate(by_dataset.items()):
            ax.plot(range(1, len(values) + 1), values, marker="o", ms=3, label=dataset, color=_colour(dataset, i))
        ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
        ax.set_title(title)
        ax.set_xlabel(xlabel)
    axes[0].legend()
    return fig


def scope_grid(scope: Mapping[str, Mapping[str, Mapping[str, torch.Tensor]]], statistics: Sequence[tuple[str, str]]):
    """Figs. 5 and 7: rows are statistics, columns datasets; one dot per head and block for CLIP,
    "W/O prompt" and "W prompt". scope: {dataset: {variant: {statistic: [layers, heads]}}}."""
    datasets = list(scope)
    fig, axes = plt.subplots(len(statistics), len(datasets), figsize=(7.0, 1.8 * len(statistics) + 0.4),
                             squeeze=False, sharex=True)
    for c, dataset in enumerate(datasets):
        variants = scope[dataset]
        for r, (key, label) in enumerate(statistics):
            ax = axes[r, c]
            for i, (variant, stats) in enumerate(variants.items()):
                values = stats[key]
                layers, heads = values.shape
                x = np.repeat(np.arange(1, layers + 1), heads) + (i - (len(variants) - 1) / 2) * 0.22
                ax.scatter(x, values.flatten().cpu().numpy(), s=6, label=variant, color=_colour(variant, i))
            if r == 0:
                ax.set_title(dataset)
            if c == 0:
                ax.set_ylabel(label)
            if r == len(statistics) - 1:
                ax.set_xlabel("block")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels))
    return fig


def cls_attention_grid(picture: np.ndarray, rows: Mapping[str, torch.Tensor], alpha: float = 0.6, most: int = 6):
    """Fig. 6: rows are maps ([layers, S, S] each: CLIP's [cls] attention, the prompted model's,
    the prompts' similarity), columns blocks (at most `most`, evenly spaced, the last included), each over the image."""
    layers = next(iter(rows.values())).shape[0]
    blocks = sorted({round(b) for b in np.linspace(0, layers - 1, min(layers, most))})
    fig, axes = plt.subplots(len(rows), len(blocks) + 1, figsize=(min(7.0, 1.3 * (len(blocks) + 1.5)), 1.3 * len(rows)),
                             squeeze=False)
    for r, (label, maps) in enumerate(rows.items()):
        axes[r, 0].imshow(picture, interpolation="nearest")
        axes[r, 0].set_ylabel(label)
        for c, block in enumerate(blocks, start=1):
            axes[r, c].imshow(picture, interpolation="nearest")
            image = axes[r, c].imshow(np.asarray(maps[block]), alpha=alpha, vmin=0, vmax=1, interpolation="bilinear")
            if r == 0:
                axes[r, c].set_title(f"block {block + 1}")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_title("image")
    fig.colorbar(image, ax=axes[:, -1].tolist(), shrink=0.8, label="min–max per map")
    return fig


def rotation_maps(pictures: np.ndarray, maps: Sequence[np.ndarray | torch.Tensor], angles: Sequence[int],
                  alpha: float = 0.6):
    """The image at each angle (top row) and its map over it (bottom row)."""
    fig, axes = plt.subplots(2, len(angles), figsize=(1.5 * len(angles) + 0.8, 3.2), squeeze=False)
    for c, angle in enumerate(angles):
        axes[0, c].imshow(pictures[c], interpolation="nearest")
        axes[0, c].set_title(f"{angle}°")
        axes[1, c].imshow(pictures[c], interpolation="nearest")
        image = axes[1, c].imshow(np.asarray(maps[c]), alpha=alpha, vmin=0, vmax=1, interpolation="bilinear")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("image")
    axes[1, 0].set_ylabel("prompt similarity")
    fig.colorbar(image, ax=axes[1, :].tolist(), shrink=0.9, label="min–max per map")
    return fig


def accuracy_curves(table: Mapping[str, Mapping], columns: Sequence, xlabel: str, xticklabels: Sequence[str] | None = None):
    """Tables 2 and 3 as curves: one panel per dataset, this run's mean ± std over seeds (solid)
    and the paper's values for the dataset it stands for (dashed)."""
    fig, axes = _grid(len(table), height=2.2)
    x = np.arange(len(columns))
    for ax, (dataset, row) in zip(axes, table.items()):
        cells = [row.get(c) for c in columns]
        # a cell without runs (None) or whose runs failed (no mean) leaves a gap in the curve
        mean = [getattr(c, "mean", np.nan) for c in cells]
        std = [getattr(c, "std", np.nan) for c in cells]
        paper = [c.paper if c is not None and c.paper is not None else np.nan for c in cells]
        ax.errorbar(x, mean, yerr=std, color=PALETTE[0], marker="o", ms=3, capsize=2, label="this run")
        if not np.all(np.isnan(paper)):
            ax.plot(x, paper, color=PALETTE[1], ls="--", marker="s", ms=2, lw=1, label="paper")
        ax.set_xticks(x, xticklabels or [str(c) for c in columns])
        ax.set_title(dataset)
        ax.set_xlabel(xlabel)
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].legend()
    return fig


def training_curves(logs: Mapping[str, Mapping[str, Sequence[dict]]], ylabel: str = "training loss (batch mean)"):
    """Training loss per step from run logs (`runs.read_log`): one colour per setting, one line per run of it
    (e.g. per seed). A run that diverged ends with a cross at its last finite step."""
    fig, ax = plt.subplots(figsize=(7.0, 2.6))
    for index, (setting, runs) in enumerate(logs.items()):
        colour = _colour(setting, index)
        for number, log in enumerate(runs.values()):
            steps = [r for r in log if r["kind"] == "step"]
            ax.plot([r["global_step"] for r in steps], [r["loss"] for r in steps], color=colour, lw=0.8, alpha=0.8,
                    label=setting if number == 0 else "_nolegend_")
            finite = [r for r in steps if np.isfinite(r["loss"])]
            if any(r["kind"] == "diverged" for r in log) and finite:
                ax.plot(finite[-1]["global_step"], finite[-1]["loss"], "x", color=colour, ms=6)
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    ax.legend()
    return fig
