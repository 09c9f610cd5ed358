"""From the analyses' statistics to the per-dataset effects the rules decide (paired per image or per head)."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch

from ..analysis import map_correlation, normalised_similarity
from .core import Estimate, estimate, paired


def relevancy_effects(clip: Mapping, prompted: Mapping, n_patches: int) -> dict[str, Estimate]:
    """The per-dataset effects of Sec. 3.2.2 from two `relevancy_statistics` of the same images
    (a baseline — zero-shot CLIP with "a photo of a {}.", or a null control — and the prompted
    model), paired image by image.

    category / sos: change of that group's share of EOS relevance; prefix: the learned
    prompts' share against the words before the class name in the baseline (CLIP's template
    words); sos_most: the SOS gain minus the prefix gain; patches: normalised similarity of the
    patch relevance (renormalised over patches) to the baseline's; vision_prompts: the vision
    prompts' share over their uniform share, against the baseline's (1 when the baseline has no
    vision prompts: a prompt as relevant as an average patch; absent without vision prompts)."""
    groups = list(prompted["text_groups"])
    c, p = clip["text_group_samples"], prompted["text_group_samples"]
    col = lambda t, name: t[:, groups.index(name)]  # noqa: E731
    prefix = lambda t: col(t, "prompt") + col(t, "template")  # noqa: E731
    effects = {
        "category": paired(col(p, "category").tolist(), col(c, "category").tolist()),
        "sos": paired(col(p, "sos").tolist(), col(c, "sos").tolist()),
        "prefix": paired(prefix(p).tolist(), prefix(c).tolist()),
        "sos_most": paired((col(p, "sos") - prefix(p)).tolist(), (col(c, "sos") - prefix(c)).tolist()),
    }
    def patches(stats):
        rows = stats["image_samples"][:, :n_patches]
        return rows / rows.sum(-1, keepdim=True)
    effects["patches"] = estimate(normalised_similarity(patches(prompted), patches(clip)).tolist())
    def prompt_ratio(stats):  # relevance on the vision prompts over their uniform share, per image
        n_prompts = stats["image_samples"].shape[1] - n_patches
        if n_prompts == 0:
            return torch.ones(len(stats["image_samples"]))
        return stats["image_samples"][:, n_patches:].sum(-1) / (n_prompts / (n_patches + n_prompts))
    if prompted["image_samples"].shape[1] > n_patches:
        effects["vision_prompts"] = paired(prompt_ratio(prompted).tolist(), prompt_ratio(clip).tolist())
    return effects


def text_attention_effects(clip: torch.Tensor, prompted: torch.Tensor, groups: Sequence[str]) -> dict[str, Estimate]:
    """Fig. 4's effects from two `token_group_attention(...)["text"]` tensors [layers, heads, groups],
    paired over the block × head cells (the bars of Fig. 4): sos, prefix (learned prompts
    against CLIP's "a photo of a": the words before the class name) and category; plus
    `category_level`, CLIP's mean category share (the scale of the equivalence margin)."""
    col = lambda t, name: t[..., list(groups).index(name)].flatten()  # noqa: E731
    prefix = lambda t: col(t, "prompt") + col(t, "template")  # noqa: E731
    return {
        "sos": paired(col(prompted, "sos").tolist(), col(clip, "sos").tolist()),
        "prefix": paired(prefix(prompted).tolist(), prefix(clip).tolist()),
        "category": paired(col(prompted, "category").tolist(), col(clip, "category").tolist()),
        "category_level": Estimate(col(clip, "category").mean().item()),
    }


def cls_map_effects(clip_attention: torch.Tensor, prompted_attention: torch.Tensor, similarity: torch.Tensor,
                    baseline_similarity: torch.Tensor | None = None) -> dict[str, Estimate]:
    """Fig. 6's effects from maps [layers, B, S, S] of the same images: `kept`, the normalised
    similarity of the prompted model's [cls] attention to CLIP's (mean over blocks per image);
    `background`, the correlation of the prompts' similarity map with CLIP's [cls] attention (mean
    over blocks per image; negative = the prompts resemble what [cls] does not look at), paired
    against the same correlation for `baseline_similarity` (a null control's prompts; none: 0)."""
    background = map_correlation(similarity, clip_attention).mean(0)
    baseline = (torch.zeros_like(background) if baseline_similarity is None
                else map_correlation(baseline_similarity, clip_attention).mean(0))
    return {"kept": maps_kept(clip_attention, prompted_attention), "background": paired(background.tolist(), baseline.tolist())}


def maps_kept(clip_attention: torch.Tensor, other_attention: torch.Tensor) -> Estimate:
    """How much another model's [cls] attention maps [layers, B, S, S] keep CLIP's of the same images: the
    normalised similarity per block, mean over blocks per image, as an estimate over the images (`cls_map_effects`'s
    `kept`; alone for a model without vision prompts, e.g. the positive control)."""
    return estimate(torch.stack([normalised_similarity(o, c) for o, c in zip(other_attention, clip_attention)]).mean(0).tolist())


def mechanism_effects(per_image: Mapping[str, torch.Tensor]) -> dict[str, Estimate]:
    """The effects of the two ways (Sec. 3.2.1) from one branch's arms of the transplant factorial
    (`analysis.ARMS`), in percentage points, paired over the test images.

    per_image: per arm, which test images each run classifies correctly, [S, N] (S runs) or [N]; "clip"
    and "full" are the corners. gain: full − CLIP (the precondition: the learned tensors helped);
    <arm>_gain: arm − CLIP, the gain the arm keeps on its own; <arm>_half: arm − (CLIP + full) / 2 (above 0:
    the arm alone keeps more than half of the gain), for every arm other than the corners;
    <arm>_vs_reweighting: arm − the re-weighting arm, for the added-term arms; interaction: full −
    re-weighting − prompt term + CLIP (what the two ways do only together).

    Each effect is linear in the per-image values. Its SE combines, in quadrature, the paired SE over the
    images of the run-averaged values and the spread of the runs' own means (their SE over S runs), so a
    difference that one seed's run makes and another's does not counts as noise."""
    values = {arm: (t.float() if t.dim() == 2 else t.float()[None]) for arm, t in per_image.items()}
    clip, full = values["clip"], values["full"]
    half = (clip + full) / 2

    def effect(difference: torch.Tensor) -> Estimate:
        points = 100 * difference  # [S, N]
        images = estimate(points.mean(0).tolist())
        runs = estimate(points.mean(1).tolist())
        return Estimate(images.mean, (images.se ** 2 + runs.se ** 2) ** 0.5, images.n)

    effects = {"gain": effect(full - clip)}
    for arm, value in values.items():
        if arm in ("full", "clip"):
            continue
        key = arm.replace("-", "_")
        effects[f"{key}_gain"] = effect(value - clip)
        effects[f"{key}_half"] = effect(value - half)
        if arm in ("prompt-term", "constant-term"):
            effects[f"{key}_vs_reweighting"] = effect(value - values["reweighting"])
    if "reweighting" in values and "prompt-term" in values:
        effects["interaction"] = effect(full - values["reweighting"] - values["prompt-term"] + clip)
    return effects
