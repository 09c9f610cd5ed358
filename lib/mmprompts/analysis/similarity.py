"""Prompt–patch similarity maps and [cls] attention maps (paper Fig. 6)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..prompted import PromptedCLIP, Trace

__all__ = ["cls_attention_maps", "map_correlation", "normalised_similarity", "patch_heatmaps", "prompt_patch_similarity",
           "rotate_images", "rotation_agreement", "similarity_attention"]


def _to_image(grid_values: torch.Tensor, grid: tuple[int, int], size: int) -> torch.Tensor:
    """[B, K, M] patch values → [B, K, size, size]: bilinear up-sampling, min–max per map."""
    b, k, _ = grid_values.shape
    maps = F.interpolate(grid_values.reshape(b * k, 1, *grid).float(), size=(size, size), mode="bilinear",
                         align_corners=False).reshape(b, k, size, size)
    low = maps.amin(dim=(-2, -1), keepdim=True)
    high = maps.amax(dim=(-2, -1), keepdim=True)
    return (maps - low) / (high - low).clamp_min(1e-12)


def rotate_images(images: torch.Tensor, degrees: int) -> torch.Tensor:
    """Rotate [B, C, S, S] counter-clockwise by 0/90/180/270 degrees (exact, no resampling)."""
    if degrees % 90:
        raise ValueError(f"degrees={degrees}: only multiples of 90 are supported")
    return torch.rot90(images, k=(degrees // 90) % 4, dims=(-2, -1))


@torch.no_grad()
def prompt_patch_similarity(model: PromptedCLIP, images: torch.Tensor) -> torch.Tensor:
    """Similarity of each vision prompt to each patch token at each layer, [layers, B, n_ctx, S, S].

    The paper's recipe: Euclidean distance between the prompt and the patch tokens that a
    block reads (after prompt insertion), bilinearly up-sampled to the image size, min–max
    normalised per map, then 1 − x (near = similar = 1). Layers without fresh prompts show
    the carried-forward prompt outputs.
    """
    n_prompts = model.config.n_ctx_vision
    if n_prompts == 0:
        raise ValueError("the model has no vision prompts (n_ctx_vision=0)")
    grid, size = tuple(model.clip.visual.grid_size), images.shape[-1]
    trace = Trace(keep_attention=False, keep_hidden=True)
    model.encode_image(images, trace=trace)
    n_patches = grid[0] * grid[1]
    maps = []
    for hidden in trace.hidden:
        distance = torch.cdist(hidden[:, -n_prompts:].float(), hidden[:, 1 : 1 + n_patches].float())
        maps.append(1 - _to_image(distance, grid, size))
    return torch.stack(maps)


@torch.no_grad()
def cls_attention_maps(model: PromptedCLIP, images: torch.Tensor) -> torch.Tensor:
    """[cls] attention over the patches, mean over heads, per layer: [layers, B, S, S] (min–max)."""
    grid, size = tuple(model.clip.visual.grid_size), images.shape[-1]
    trace = Trace()
    model.encode_image(images, trace=trace)
    n_patches = grid[0] * grid[1]
    rows = [attn[:, :, 0, 1 : 1 + n_patches].mean(1, keepdim=True) for attn in trace.attentions]
    return torch.stack([_to_image(r, grid, size)[:, 0] for r in rows])


def patch_heatmaps(model: PromptedCLIP, patch_values: torch.Tensor, size: int) -> torch.Tensor:
    """Per-patch values [B, M + anything] (e.g. a relevancy row) as [B, S, S] heat maps (bilinear, min–max)."""
    grid = tuple(model.clip.visual.grid_size)
    return _to_image(patch_values[:, None, : grid[0] * grid[1]], grid, size)[:, 0]


def _correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation along the last dimension, in float64."""
    a, b = a.double(), b.double()
    a, b = a - a.mean(-1, keepdim=True), b - b.mean(-1, keepdim=True)
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(1e-12)


def map_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of two stacks of maps [..., S, S], per map ([...])."""
    return _correlation(a.flatten(-2), b.flatten(-2)).float()


def normalised_similarity(maps: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """How alike each map is to the reference map of the same image, on a scale set by the data.

    maps, reference: [B, ...] (B ≥ 2 images). Per image i, r_i = corr(maps_i, reference_i),
    and r_unrelated = the mean correlation of reference maps of different images (i with
    i + 1). Returns [B] s_i = (r_i − r_unrelated) / (1 − r_unrelated): 1 for identical maps,
    0 for maps no more alike than the reference's maps of two different images."""
    if len(maps) < 2:
        raise ValueError("normalised_similarity needs at least two images (the unrelated baseline pairs them)")
    flat, ref = maps.flatten(1), reference.flatten(1)
    same = _correlation(flat, ref)
    unrelated = _correlation(ref, ref.roll(1, dims=0)).mean()
    return ((same - unrelated) / (1 - unrelated).clamp_min(1e-12)).float()


@torch.no_grad()
def similarity_attention(model: PromptedCLIP, images: torch.Tensor) -> torch.Tensor:
    """Sec. 3.2.1: "the more similar x_i is to p_c, the larger the attention value obtained".

    Per image [B]: the correlation, over every (input token i, vision prompt c) pair of a block, between
    their similarity where the block reads them (minus the Euclidean distance of the hidden states,
    Fig. 6's measure) and the attention a'_ic of token i on prompt c (mean over heads); mean over blocks."""
    n_prompts = model.config.n_ctx_vision
    if n_prompts == 0:
        raise ValueError("the model has no vision prompts (n_ctx_vision=0)")
    trace = Trace(keep_hidden=True)
    model.encode_image(images, trace=trace)
    per_block = []
    for hidden, attention in zip(trace.hidden, trace.attentions):
        similarity = -torch.cdist(hidden[:, :-n_prompts].float(), hidden[:, -n_prompts:].float())
        on_prompts = attention[:, :, :-n_prompts, -n_prompts:].float().mean(1)
        per_block.append(_correlation(similarity.flatten(1), on_prompts.flatten(1)))
    return torch.stack(per_block).mean(0).float()


@torch.no_grad()
def rotation_agreement(model: PromptedCLIP, images: torch.Tensor, degrees: tuple[int, ...] = (90, 180, 270)) -> torch.Tensor:
    """Do the prompts' similarity maps follow the content when the image turns? Per angle, the
    mean correlation between the last block's map of the rotated image and the rotated map of
    the original ([len(degrees)]; 1 = the maps turn with the image)."""
    base = prompt_patch_similarity(model, images).mean(2)[-1]
    return torch.stack([map_correlation(prompt_patch_similarity(model, rotate_images(images, d)).mean(2)[-1],
                                        rotate_images(base, d)).mean() for d in degrees])
