"""Relevancy maps (Chefer et al. 2021b; paper eqs. 13–16), batched and exact.

For every pair (image i, text of its ground-truth class) the target is the scaled logit
y_i = s · cos(f_i, g_i). Samples never interact, so one backward pass of Σ_i y_i gives each
sample's own gradients ∂y_i/∂A for every attention map A. Per layer ℓ:
    Ā_ℓ = mean_heads((∇A_ℓ ⊙ A_ℓ)⁺),    R ← R + Ā_ℓ · R,    R₀ = I.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from ..progress import progress_bar
from ..prompted import PromptedCLIP, Trace
from .tokens import text_token_groups, vision_token_groups

__all__ = ["Relevancy", "accumulate_relevancy", "relevancy_maps", "relevancy_statistics"]


@dataclass
class Relevancy:
    """Per-sample relevance rows.

    image  [B, L_v - 1]: relevance of each patch (row-major), then each vision prompt, to [cls]
                         (R[0, 1:]).
    text   [B, L_t]:     relevance of each position to EOS: SOS, prompts, template, class
                         tokens, '.' (R[eos, :eos]; Chefer's demo drops SOS, the paper's
                         groups need it); 0 from the EOS position on.
    eos    [B]:          EOS position of each text.
    """

    image: torch.Tensor
    text: torch.Tensor
    eos: torch.Tensor


def accumulate_relevancy(attentions: Sequence[torch.Tensor], grads: Sequence[torch.Tensor]) -> torch.Tensor:
    """R [B, L, L] from per-layer attention probabilities and their gradients ([B, H, L, L]).

    Deep prompts re-inserted before a block are new tokens, and one might reset their rows to
    the identity there (as R₀ = I does at the input; the paper does not say). No option is
    needed: the outputs of the replaced prompts are dropped, so the target's gradient with
    respect to their attention rows is exactly 0, their cam rows are 0, and their rows of R
    are still identity rows when they are replaced (`tests/test_relevancy.py` checks this
    against an accumulation that resets them)."""
    first = attentions[0]
    relevance = torch.eye(first.shape[-1], dtype=torch.float32, device=first.device).expand(first.shape[0], -1, -1)
    for attn, grad in zip(attentions, grads):
        cam = (grad.float() * attn.float()).clamp(min=0).mean(dim=1)
        relevance = relevance + torch.bmm(cam, relevance)
    return relevance


def relevancy_maps(model: PromptedCLIP, images: torch.Tensor, texts: Sequence[str], start_layer: int = 0) -> Relevancy:
    """Relevancy of image i's tokens and text i's tokens for the pair (images[i], texts[i]).

    `texts[i]` is the string the model reads for sample i's ground-truth class
    (`model.prompt_texts(...)`). `start_layer` is the first block whose attention is
    accumulated: 0 (default) is the paper's formula over all layers; Chefer's CLIP demo
    uses only the last layer (start_layer=-1) to hide ViT-B/16 artefacts.
    """
    if len(texts) != len(images):
        raise ValueError(f"got {len(images)} images but {len(texts)} texts: give one text per image")
    vision, text = Trace(), Trace()
    with torch.enable_grad():
        image_features = model.encode_image(images, trace=vision)
        text_features = model.encode_text(texts, trace=text)
        targets = model.logit_scale * (F.normalize(image_features, dim=-1) * F.normalize(text_features, dim=-1)).sum(-1)
        n_v = len(vision.attentions)
        layers_v = vision.attentions[start_layer:] if start_layer >= -n_v else []
        layers_t = text.attentions[start_layer:] if start_layer >= -len(text.attentions) else []
        if not layers_v or not layers_t:
            raise ValueError(f"start_layer={start_layer} leaves no block (the towers have {n_v} and "
                             f"{len(text.attentions)} blocks)")
        grads = torch.autograd.grad(targets.sum(), layers_v + layers_t)
    image_rows = accumulate_relevancy(layers_v, grads[: len(layers_v)])[:, 0, 1:]
    text_r = accumulate_relevancy(layers_t, grads[len(layers_v):])
    rows = torch.arange(len(texts), device=text_r.device)
    text_rows = text_r[rows, text.eos]  # [B, L_t]
    before_eos = torch.arange(text_rows.shape[1], device=text_r.device)[None] < text.eos[:, None]
    return Relevancy(image=image_rows.detach(), text=(text_rows * before_eos).detach(), eos=text.eos)


def relevancy_statistics(model: PromptedCLIP, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                         classnames: Sequence[str], template: str = "a photo of a {}.", start_layer: int = 0,
                         progress: bool = True) -> dict[str, torch.Tensor | list[str]]:
    """Dataset-level relevance per token position and per token group (paper Figs. 2, 3, 8–23).

    Normalisation: each sample's row is divided by its sum (over patches + vision prompts;
    over text positions before EOS), so every sample contributes a distribution; the
    result is the mean of those distributions over the dataset.
    Returns image [M + n_ctx] with image_labels and image_groups {patch, vision_prompt} (mean
    mass per group), text [context] by position (0 from the longest EOS on), text_groups
    {sos, prompt, template, category, '.'}; and per sample, for the claims' standard errors,
    image_samples [N, M + n_ctx] (each row sums to 1) and text_group_samples [N, 5] (columns
    in the order of text_groups).
    """
    texts = model.prompt_texts(classnames, template)
    labels_of = [text_token_groups(model, name, template) for name in classnames]
    groups = ["sos", "prompt", "template", "category", "."]
    device = model.logit_scale.device
    width = model.clip.positional_embedding.shape[0]  # texts are padded to the full context
    image_rows, text_rows, group_rows = [], [], []
    for images, targets in progress_bar(batches, progress, desc="relevancy"):
        maps = relevancy_maps(model, images.to(device), [texts[t] for t in targets.tolist()], start_layer)
        image_rows.append((maps.image / maps.image.sum(-1, keepdim=True)).cpu())
        text = F.pad(maps.text / maps.text.sum(-1, keepdim=True), (0, width - maps.text.shape[1])).cpu()
        text_rows.append(text)
        for row, target in zip(text, targets.tolist()):
            shares = torch.zeros(len(groups))
            for position, label in enumerate(labels_of[target][:-1]):  # up to, not including, EOS
                shares[groups.index(label)] += row[position]
            group_rows.append(shares)
    if not group_rows:
        raise ValueError("no batches to aggregate")
    image_labels = vision_token_groups(model)[1:]
    image_samples = torch.cat(image_rows)
    image_mean = image_samples.mean(0)
    return {
        "image": image_mean,
        "image_labels": image_labels,
        "image_groups": {g: image_mean[[i for i, x in enumerate(image_labels) if x == g]].sum().item()
                         for g in ("patch", "vision_prompt")},
        "text": torch.cat(text_rows).mean(0),
        "text_groups": dict(zip(groups, torch.stack(group_rows).mean(0).tolist())),
        "image_samples": image_samples,
        "text_group_samples": torch.stack(group_rows),
    }
