"""Matplotlib figures of the book's pages. They take computed tensors and tables; no analysis here.

One style for every figure (set when this module is imported): the Okabe–Ito palette, which
stays distinguishable with the common colour-vision deficiencies, constrained layout, and fonts
of at least 8 pt. Figures are drawn at most `WIDTH` inches wide: the book shows one inch as 100 CSS
pixels (`widgets.figure_image`), so that width fills the text column and 8 pt text is 11 CSS px on
the page. Each paper figure is one composed figure (a grid over datasets or blocks, at most about
eight panels; more are split into views of a widget); `page.figure` shows it with its number,
caption and paper counterpart.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch

from .models import LoadedCLIP

__all__ = ["GROUP_NAMES", "MODEL_NAMES", "PALETTE", "WIDTH", "accuracy_curves", "block_lines", "class_probabilities", "cls_attention_grid",
           "display_images", "group_attention_grid", "token_relevance", "group_share_grid", "overlay_maps", "position_relevance",
           "recovered_bars", "rotation_maps", "scope_grid", "text_positions", "training_curves"]

# Okabe & Ito (2008), "Color Universal Design": black first dropped, blue/orange lead.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
mpl.rcParams.update({
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "figure.constrained_layout.use": True,
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
WIDTH = 6.8  # inches: the book's text column
# One colour per model throughout the book. Fig. 5's three variants differ in colour, lightness and
# marker: CLIP blue circles, "W/O prompt" reddish-purple triangles, "W prompt" orange crosses.
MODEL_COLOURS = {"CLIP": PALETTE[0], "prompted": PALETTE[1], "deep": PALETTE[1], "shallow": PALETTE[2],
                 "W/O prompt": PALETTE[3], "W prompt": PALETTE[1]}
MODEL_MARKERS = {"CLIP": "o", "W/O prompt": "^", "W prompt": "x"}
# The models as a reader names them in a figure's legend (the pages key their results by the short names).
MODEL_NAMES = {"CLIP": "zero-shot CLIP", "prompted": "prompted model", "deep": "deep prompts", "shallow": "shallow prompts"}
# The token groups of `analysis.TEXT_GROUPS` / `VISION_GROUPS` as a reader reads them.
GROUP_NAMES = {"sos": "SOS", "prompt": "prompts", "template": "template words", "category": "class name",
               ".": "period", "cls": "[cls]", "patch": "patches", "vision_prompt": "vision prompts"}


def _colour(label: str, index: int) -> str:
    return MODEL_COLOURS.get(label, PALETTE[index % len(PALETTE)])


def _grid(n: int, columns: int = 4, width: float = WIDTH, height: float = 1.9, **kwargs):
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
    """One panel per dataset: grouped bars, one group per token group, one bar per model; the legend
    above the panels."""
    fig, axes = _grid(len(shares), columns=3, height=2.2, sharey=True)
    for ax, (dataset, by_model) in zip(axes, shares.items()):
        width = 0.8 / len(by_model)
        for i, (model, values) in enumerate(by_model.items()):
            ax.bar(np.arange(len(groups)) + (i - (len(by_model) - 1) / 2) * width,
                   [values.get(g, np.nan) for g in groups], width, label=MODEL_NAMES.get(model, model), color=_colour(model, i))
        ax.set_xticks(range(len(groups)), [GROUP_NAMES.get(g, g) for g in groups], rotation=35, ha="right",
                      rotation_mode="anchor")
        ax.set_title(dataset)
    for ax in axes[::3]:  # the left column
        ax.set_ylabel(ylabel)
    _legend_above(fig, axes[0])
    return fig


def _legend_above(fig, ax) -> None:
    """The figure's legend (from `ax`) in one row above the panels, never on the data."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=len(labels))


def text_positions(template: str, prompts: int, length: int) -> list[str]:
    """Names of the first `length` text positions as CLIP and a prompted model read them: "SOS", then
    each template word before the class name with the prompt in its place ("a/P1", "photo/P2", …), then
    "c1", "c2", … for the class name's tokens and the period (class names differ in length)."""
    words = template.split("{}")[0].split()
    names = ["SOS"] + ["/".join(part for part in (words[i] if i < len(words) else "", f"P{i + 1}" if i < prompts else "")
                                if part) for i in range(max(len(words), prompts))]
    return (names + [f"c{k}" for k in range(1, length + 1)])[:length]


def position_relevance(rows: Mapping[str, Mapping[str, np.ndarray | torch.Tensor]], xlabel: str,
                       boundary: int | None = None, boundary_label: str = "", names: Sequence[str] | None = None):
    """Fig. 2 / 3 style: mean relevance per token position, one panel per dataset, one bar colour per model.

    `names` labels the positions (e.g. `text_positions`; default: their numbers); `boundary` draws the
    paper's red line (e.g. between patches and vision prompts), labelled above the panel."""
    fig, axes = _grid(len(rows), columns=2, height=2.3)
    for ax, (dataset, by_model) in zip(axes, rows.items()):
        width = 0.85 / len(by_model)
        for i, (model, values) in enumerate(by_model.items()):
            values = np.asarray(values, dtype=float)
            ax.bar(np.arange(len(values)) + (i - (len(by_model) - 1) / 2) * width, values, width,
                   label=MODEL_NAMES.get(model, model), color=_colour(model, i))
            if names is not None:
                ax.set_xticks(range(len(values)), list(names)[:len(values)], rotation=90)
        if boundary is not None:
            ax.axvline(boundary - 0.5, color=PALETTE[5], lw=1)
            ax.annotate(boundary_label, (boundary - 0.5, 1), xycoords=("data", "axes fraction"), xytext=(2, 2),
                        textcoords="offset points", color=PALETTE[5], fontsize=8, va="bottom")
        ax.set_title(dataset, loc="left")
    for ax in axes[::2]:  # the left column
        ax.set_ylabel("mean relevance share")
    fig.supxlabel(xlabel, fontsize=9)  # once: two panels' labels side by side would overlap
    _legend_above(fig, axes[0])
    return fig


def token_relevance(rows: Mapping[str, tuple[Sequence[str], Sequence[float]]]):
    """Texts as the model reads them, each token shaded by its relevance (Figs. 2/3 per position,
    for single texts): rows {label: (tokens, relevance per token)}, shading min–max per row."""
    width = max(len(tokens) for tokens, _ in rows.values())
    fig, axes = plt.subplots(len(rows), 1, figsize=(min(WIDTH, 0.6 * width), 0.6 * len(rows) + 0.3), squeeze=False)
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


def group_attention_grid(shares: Mapping[str, torch.Tensor], groups: Sequence[str], query: str):
    """Fig. 4 style: one panel per model; along the x axis the blocks, in each block one bar per head,
    stacked by the query's attention on each token group. shares: {model: [layers, heads, groups]}."""
    models = list(shares)
    layers, heads, _ = next(iter(shares.values())).shape
    fig, axes = plt.subplots(len(models), 1, figsize=(WIDTH, 1.9 * len(models) + 0.5), sharex=True, sharey=True,
                             squeeze=False)
    step = heads + 1  # one empty slot between blocks
    for ax, model in zip(axes[:, 0], models):
        bottom = np.zeros(layers * heads)
        x = (np.arange(layers)[:, None] * step + np.arange(heads)[None, :]).ravel()
        for g, group in enumerate(groups):
            value = shares[model][:, :, g].reshape(-1).cpu().numpy()
            ax.bar(x, value, bottom=bottom, color=PALETTE[g % len(PALETTE)], label=GROUP_NAMES.get(group, group), width=0.9)
            bottom += value
        ax.set_ylabel(f"{model}\nshare")
        ax.set_ylim(0, 1)
    axes[-1, 0].set_xticks(np.arange(layers) * step + (heads - 1) / 2, [str(b + 1) for b in range(layers)])
    axes[-1, 0].set_xlabel(f"block (one bar per head: the {query} query's attention on each token group)")
    _legend_above(fig, axes[0, 0])
    return fig


def block_lines(panels: Mapping[str, Mapping[str, Sequence[float]]], xlabel: str = "block", log: Sequence[str] = ()):
    """One panel per quantity (title → {dataset: value per block}) in a column, blocks on the x axis,
    the legend above; panels named in `log` use a logarithmic y axis (values spanning decades)."""
    fig, axes = plt.subplots(len(panels), 1, figsize=(WIDTH, 1.75 * len(panels) + 0.5), sharex=True, squeeze=False)
    axes = list(axes[:, 0])
    for ax, (title, by_dataset) in zip(axes, panels.items()):
        for i, (dataset, values) in enumerate(by_dataset.items()):
            ax.plot(range(1, len(values) + 1), values, marker="o", ms=3, label=dataset, color=_colour(dataset, i))
        if title in log:
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
        ax.set_title(title + (" (log scale)" if title in log else ""), loc="left")
    axes[-1].set_xlabel(xlabel)
    _legend_above(fig, axes[0])
    return fig


def scope_grid(scope: Mapping[str, Mapping[str, torch.Tensor]], statistics: Sequence[tuple[str, str]]):
    """Figs. 5 and 7 for one dataset: one panel per statistic, blocks on the x axis, one mark per head
    for CLIP, "W/O prompt" and "W prompt" (side by side within a block; colour and marker differ).
    scope: {variant: {statistic: [layers, heads]}}."""
    fig, axes = plt.subplots(len(statistics), 1, figsize=(WIDTH, 1.9 * len(statistics) + 0.5), sharex=True, squeeze=False)
    for ax, (key, label) in zip(axes[:, 0], statistics):
        for i, (variant, stats) in enumerate(scope.items()):
            values = stats[key]
            layers, heads = values.shape
            x = np.repeat(np.arange(1, layers + 1), heads) + (i - (len(scope) - 1) / 2) * 0.25
            ax.scatter(x, values.flatten().cpu().numpy(), s=16, label=variant, color=_colour(variant, i),
                       marker=MODEL_MARKERS.get(variant, "o"), linewidths=1,
                       facecolors="none" if MODEL_MARKERS.get(variant) == "o" else None)
        ax.set_ylabel(label)
        ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    axes[-1, 0].set_xlabel("block")
    _legend_above(fig, axes[0, 0])
    return fig


def cls_attention_grid(picture: np.ndarray, rows: Mapping[str, torch.Tensor], alpha: float = 0.6, most: int = 6):
    """Fig. 6: rows are maps ([layers, S, S] each: CLIP's [cls] attention, the prompted model's,
    the prompts' similarity), columns blocks (at most `most`, evenly spaced, the last included), each over the image."""
    layers = next(iter(rows.values())).shape[0]
    blocks = sorted({round(b) for b in np.linspace(0, layers - 1, min(layers, most))})
    width = min(WIDTH, 1.3 * (len(blocks) + 1.5))
    panel = width / (len(blocks) + 1.5)  # square panels, room for the row labels and the colour bar
    fig, axes = plt.subplots(len(rows), len(blocks) + 1, figsize=(width, (panel + 0.25) * len(rows)),
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
    fig, axes = _grid(len(table), columns=3, height=2.3)
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
    for ax in axes[::3]:  # the left column
        ax.set_ylabel("test accuracy (%)")
    _legend_above(fig, axes[0])
    return fig


def recovered_bars(recovered: Mapping[str, Mapping[str, Mapping[str, float]]], arm_names: Mapping[str, str]):
    """The intervention test: per dataset (panels), the gain over CLIP each arm recovers (bars, % of the full
    model's), one colour per branch; 100% = the full model, 0% = zero-shot CLIP, the dashed line at 50%."""
    datasets = list(dict.fromkeys(d for by in recovered.values() for d in by))
    branches = list(recovered)
    arms = list(arm_names)
    fig, axes = _grid(len(datasets), columns=3, height=2.4, sharey=True)
    width = 0.8 / max(len(branches), 1)
    for ax, dataset in zip(axes, datasets):
        for b, branch in enumerate(branches):
            values = [recovered[branch].get(dataset, {}).get(arm, np.nan) for arm in arms]
            ax.bar(np.arange(len(arms)) + (b - (len(branches) - 1) / 2) * width, values, width, label=branch,
                   color=PALETTE[b % len(PALETTE)])
        ax.axhline(50, color="0.4", lw=0.8, ls="--")
        ax.axhline(0, color="0.2", lw=0.8)
        ax.set_title(dataset)
        ax.set_xticks(range(len(arms)), [arm_names[a] for a in arms], rotation=35, ha="right")
    axes[0].set_ylabel("gain recovered (%)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=len(branches), title="towers edited")
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
