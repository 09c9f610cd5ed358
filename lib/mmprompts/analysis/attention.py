"""Attention statistics: attention on token groups (Fig. 4), mean attention distance and
attention entropy per head (Figs. 5, 7).

Conventions (stated once, used everywhere):
  * distance — Raghu et al. / the ViT paper (Kornblith's gist): D[i, j] = patch_size ·
    ‖grid(i) − grid(j)‖₂ on the row-major patch grid; per patch query Σ_j A[i, j] D[i, j] over
    patch keys, [cls] and prompt rows and columns dropped and rows NOT renormalised (mass on
    [cls]/prompts counts as distance 0); `renormalize=True` divides by the patch-key mass.
  * entropy — −Σ_j p log p (natural log) per query over all keys, mean over [cls] and patch
    queries; the [cls] entropy is row 0.
  * "W/O prompt" — the prompted model's maps with prompt rows and columns removed and rows
    renormalised (`without_prompts`); "W prompt" — the maps as they are; "CLIP" — the
    zero-shot model.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import torch
from ..progress import progress_bar
from ..prompted import PromptedCLIP, Trace
from .tokens import text_token_groups, vision_token_groups

__all__ = [
    "TEXT_GROUPS", "VISION_GROUPS", "attention_distance", "attention_entropy", "attention_scope", "attention_shift",
    "eos_attention_on_sos", "group_attention", "scope_change", "text_group_attention", "token_group_attention", "without_prompts",
]


def without_prompts(attn: torch.Tensor, n_prompts: int) -> torch.Tensor:
    """Drop the last `n_prompts` rows and columns and renormalise the rows."""
    if n_prompts == 0:
        return attn
    kept = attn[..., :-n_prompts, :-n_prompts]
    return kept / kept.sum(-1, keepdim=True)


def _patch_distances(grid: tuple[int, int], patch_size: int, device) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(grid[0]), torch.arange(grid[1]), indexing="ij")
    coords = torch.stack([ys.flatten(), xs.flatten()], -1).float().to(device)
    return patch_size * torch.cdist(coords, coords)


def attention_distance(attn: torch.Tensor, grid: tuple[int, int], patch_size: int, renormalize: bool = False) -> torch.Tensor:
    """Mean attention distance in pixels per head, [H], from maps [B, H, L, L] of
    [cls, patches, (prompts)]; averaged over patch queries and images."""
    n_patches = grid[0] * grid[1]
    patches = attn[:, :, 1 : 1 + n_patches, 1 : 1 + n_patches].float()
    if renormalize:
        patches = patches / patches.sum(-1, keepdim=True)
    distance = (patches * _patch_distances(grid, patch_size, attn.device)).sum(-1)
    return distance.mean(dim=(0, 2))


def attention_entropy(attn: torch.Tensor, n_prompts: int = 0, cls_only: bool = False) -> torch.Tensor:
    """Mean attention entropy per head, [H]: over [cls] and patch queries (not prompt rows),
    or over the [cls] row alone."""
    rows = attn[:, :, :1] if cls_only else attn[:, :, : attn.shape[-2] - n_prompts]
    p = rows.float().clamp_min(1e-12)
    return -(p * p.log()).sum(-1).mean(dim=(0, 2))


@torch.no_grad()
def attention_scope(model: PromptedCLIP, batches: Iterable[torch.Tensor], progress: bool = True) -> dict[str, dict[str, torch.Tensor]]:
    """Distance (both conventions) and entropy per layer and head over a stream of image batches.

    Returns {"W prompt": stats, "W/O prompt": stats}, stats = {"distance", "distance_renormalized",
    "entropy", "cls_entropy"} each [layers, heads]. For zero-shot CLIP both variants coincide.
    """
    visual = model.clip.visual
    grid, patch = tuple(visual.grid_size), visual.patch_size[0]
    n_prompts = model.config.n_ctx_vision
    sums: dict[str, dict[str, torch.Tensor]] = {}
    count = 0
    for images in progress_bar(batches, progress, desc="attention scope"):
        trace = Trace()
        model.encode_image(images.to(model.logit_scale.device), trace=trace)
        for variant, maps in (("W prompt", trace.attentions),
                              ("W/O prompt", [without_prompts(a, n_prompts) for a in trace.attentions])):
            kept = n_prompts if variant == "W prompt" else 0
            stats = {
                "distance": torch.stack([attention_distance(a, grid, patch) for a in maps]),
                "distance_renormalized": torch.stack([attention_distance(a, grid, patch, True) for a in maps]),
                "entropy": torch.stack([attention_entropy(a, kept) for a in maps]),
                "cls_entropy": torch.stack([attention_entropy(a, kept, cls_only=True) for a in maps]),
            }
            target = sums.setdefault(variant, {k: torch.zeros_like(v) for k, v in stats.items()})
            for key, value in stats.items():
                target[key] += value * len(images)
        count += len(images)
    return {variant: {k: v / count for k, v in stats.items()} for variant, stats in sums.items()}


def group_attention(attentions: Sequence[torch.Tensor], rows: torch.Tensor, labels: Sequence[Sequence[str]],
                    groups: Sequence[str]) -> torch.Tensor:
    """Attention of one query row per sequence onto token groups, [layers, heads, groups],
    averaged over the batch.

    attentions: per layer [B, H, L, L]; rows: [B] query position ([cls] = 0, text: EOS);
    labels: per sequence the group of each position (shorter lists: the rest is ignored).
    """
    batch, length = attentions[0].shape[0], attentions[0].shape[-1]
    member = torch.zeros(batch, length, len(groups), device=attentions[0].device)
    for b, seq in enumerate(labels):
        for position, label in enumerate(seq[:length]):
            if label in groups:
                member[b, position, groups.index(label)] = 1.0
    index = torch.arange(batch, device=rows.device)
    per_layer = [torch.einsum("bhl,blg->hg", attn[index, :, rows].float(), member) / batch for attn in attentions]
    return torch.stack(per_layer)


TEXT_GROUPS = ["sos", "prompt", "template", "category", "."]
VISION_GROUPS = ["cls", "patch", "vision_prompt"]


@torch.no_grad()
def text_group_attention(model: PromptedCLIP, classnames: Sequence[str], template: str = "a photo of a {}.") -> torch.Tensor:
    """Fig. 4's text half: per layer and head, how much EOS attends to each of TEXT_GROUPS, mean over the
    dataset's class prompts, [layers, heads, len(TEXT_GROUPS)]."""
    trace = Trace()
    model.encode_text(model.prompt_texts(classnames, template), trace=trace)
    return group_attention(trace.attentions, trace.eos, [text_token_groups(model, name, template) for name in classnames],
                           TEXT_GROUPS)


def eos_attention_on_sos(model: PromptedCLIP, classnames: Sequence[str], template: str = "a photo of a {}.") -> list[list[float]]:
    """The statistic of the paper's premise in Sec. 3.3.1 (`claims.decide_eos_focus_on_sos`): per block and
    head, how much EOS attends to SOS (`text_group_attention`, mean over the class prompts)."""
    return text_group_attention(model, classnames, template)[..., TEXT_GROUPS.index("sos")].tolist()


@torch.no_grad()
def token_group_attention(model: PromptedCLIP, batches: Iterable[torch.Tensor], classnames: Sequence[str],
                          template: str = "a photo of a {}.", progress: bool = True) -> dict[str, torch.Tensor]:
    """Fig. 4: per layer and head, how much [cls] (vision, mean over images) and EOS (text,
    mean over the dataset's class prompts) attend to each token group.

    Returns {"text": [layers, heads, len(TEXT_GROUPS)], "vision": [layers, heads, len(VISION_GROUPS)]}.
    """
    device = model.logit_scale.device
    text = text_group_attention(model, classnames, template)
    labels = vision_token_groups(model)
    vision_sum, count = None, 0
    for images in progress_bar(batches, progress, desc="[cls] attention"):
        trace = Trace()
        model.encode_image(images.to(device), trace=trace)
        rows = torch.zeros(len(images), dtype=torch.long, device=device)
        part = group_attention(trace.attentions, rows, [labels] * len(images), VISION_GROUPS) * len(images)
        vision_sum = part if vision_sum is None else vision_sum + part
        count += len(images)
    if count == 0:
        raise ValueError("no image batches given")
    return {"text": text, "vision": vision_sum / count}


@torch.no_grad()
def attention_shift(model: PromptedCLIP, reference: PromptedCLIP, batches: Iterable[torch.Tensor],
                    progress: bool = True) -> torch.Tensor:
    """How far the prompted model's attention among input tokens moved from the reference's (Fig. 1).

    Per image and block: the total variation ½ Σ_j |a_ij − a⁰_ij| between the prompted model's
    attention renormalised over the input tokens (prompt rows and columns removed) and the
    reference model's (zero-shot CLIP) on the same image, mean over heads and queries; [images, layers].
    0 in a block where prompts only rescale the attention (block 1)."""
    n_prompts = model.config.n_ctx_vision
    shifts = []
    for images in progress_bar(batches, progress, desc="attention shift"):
        images = images.to(model.logit_scale.device)
        mine, theirs = Trace(), Trace()
        model.encode_image(images, trace=mine)
        reference.encode_image(images, trace=theirs)
        shifts.append(torch.stack([0.5 * (without_prompts(a, n_prompts).float() - b.float()).abs().sum(-1).mean(dim=(1, 2))
                                   for a, b in zip(mine.attentions, theirs.attentions)], dim=1))
    if not shifts:
        raise ValueError("no image batches given")
    return torch.cat(shifts)


def scope_change(variant: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean |variant − reference| over (block, head) in units of the reference's head-to-head
    spread (std over the heads of a block, mean over blocks): the scale of Fig. 5's dots.

    variant, reference: [layers, heads] statistics of the same heads (e.g. `attention_scope`)."""
    spread = reference.float().std(dim=1).mean()
    return ((variant.float() - reference.float()).abs().mean() / spread.clamp_min(1e-12)).item()
