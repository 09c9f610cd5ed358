"""The paper's two ways (Sec. 3.2.1), switched on and off: accuracy left when each term of eq. 12 is kept alone.

The paper argues that prompts work "mainly through the second way, which acts as the dataset bias"
from relevancy and attention statistics. Here the same forward evaluates a trained prompted model
with the update of every input token in every prompted block replaced by one part of eq. 12 (the
arms of `prompted.ARMS`), per branch: only the image tower edited, only the text tower, or both.
The constant-bias arm needs the dataset's mean prompt terms (`prompt_term_means`).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import torch

from ..prompted import ARMS, Intervention, PromptedCLIP, PromptTerms
from ..train import autocast

__all__ = ["ARMS", "BRANCHES", "arm_correct", "intervened_logits", "prompt_term_means"]

BRANCHES = ("image", "text", "both")


@torch.no_grad()
def prompt_term_means(model: PromptedCLIP, image_batches: Iterable[torch.Tensor], class_names: Sequence[str],
                      template: str = "a photo of a {}.") -> dict[str, PromptTerms]:
    """Per tower, the mean prompt term of the model as trained at every block and token position.

    Image tower: the mean over the images of `image_batches` (the dataset's training images) at
    each position ([cls], every patch). Text tower: the mean over the dataset's class prompts at
    each position before EOS, and apart at EOS (its position differs from class to class and it is
    the token read out). A position no input token reaches keeps a zero term."""
    device = model.logit_scale.device
    terms: dict[str, PromptTerms] = {}
    sums, count = None, 0
    for images in image_batches:
        record = Intervention(record=True)
        with autocast(device):
            model.encode_image(images.to(device), intervention=record)
        batch = [t.float().sum(0) for t in record.recorded]
        sums = batch if sums is None else [a + b for a, b in zip(sums, batch)]
        count += len(images)
    if sums:  # an image tower without prompts records nothing
        terms["image"] = PromptTerms([s / count for s in sums])
    record = Intervention(record=True)
    with autocast(device):
        model.encode_text(model.prompt_texts(class_names, template), intervention=record)
    if record.recorded:
        eos = record.eos
        rows = torch.arange(len(eos), device=eos.device)
        before_eos = (torch.arange(record.recorded[0].shape[1], device=eos.device)[None] < eos[:, None]).float()
        per_position = [(t.float() * before_eos[..., None]).sum(0) / before_eos.sum(0).clamp_min(1)[:, None]
                        for t in record.recorded]
        terms["text"] = PromptTerms(per_position, [t.float()[rows, eos].mean(0) for t in record.recorded])
    return terms


def intervened_logits(model: PromptedCLIP, images: torch.Tensor, class_names: Sequence[str], *, arm: str,
                      branch: str, template: str = "a photo of a {}.",
                      constant: dict[str, PromptTerms] | None = None) -> torch.Tensor:
    """Logits [B, C] of the model with `arm` applied in the towers of `branch` ("image", "text",
    "both"); the other tower runs as trained. `constant` (from `prompt_term_means`) is needed by the
    constant-bias arm. With arm "full" these are the model's own logits."""
    if branch not in BRANCHES:
        raise ValueError(f"branch={branch!r}: choose one of {BRANCHES}")
    device = model.logit_scale.device
    with torch.no_grad(), autocast(device):
        image = model.encode_image(images.to(device), intervention=_for("image", arm, branch, constant))
        text = model.encode_text(model.prompt_texts(class_names, template), intervention=_for("text", arm, branch, constant))
        return model.logits(image, text).float()


@torch.no_grad()
def arm_correct(model: PromptedCLIP, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], class_names: Sequence[str],
                constant: dict[str, PromptTerms], template: str = "a photo of a {}.",
                arms: Sequence[str] = ARMS) -> dict[tuple[str, str], torch.Tensor]:
    """Which test images each (branch, arm) classifies correctly: {(branch, arm): [N] bool}.

    The same numbers as `intervened_logits(...).argmax(-1) == labels` for every pair, computed with
    one pass per tower and distinct forward (branch "both" combines an edited image tower with an
    edited text tower; in a tower without prompts the arms reduce to two forwards, with and without
    its learned biases)."""
    device = model.logit_scale.device
    image_arms = {arm: _same_forward(model, "image", arm) for arm in dict.fromkeys(["full", *arms])}
    text_arms = {arm: _same_forward(model, "text", arm) for arm in dict.fromkeys(["full", *arms])}
    with autocast(device):
        texts = {key: model.encode_text(model.prompt_texts(class_names, template),
                                        intervention=_for("text", key, "text", constant))
                 for key in dict.fromkeys(text_arms.values())}
    correct: dict[tuple[str, str], list[torch.Tensor]] = {}
    for images, labels in batches:
        labels = labels.to(device)
        with autocast(device):
            features = {key: model.encode_image(images.to(device), intervention=_for("image", key, "image", constant))
                        for key in dict.fromkeys(image_arms.values())}
        full_image, full_text = features[image_arms["full"]], texts[text_arms["full"]]
        for arm in arms:
            image, text = features[image_arms[arm]], texts[text_arms[arm]]
            for branch, pair in {"image": (image, full_text), "text": (full_image, text), "both": (image, text)}.items():
                hits = model.logits(*pair).float().argmax(-1) == labels
                correct.setdefault((branch, arm), []).append(hits.cpu())
    return {key: torch.cat(parts) for key, parts in correct.items()}


def _same_forward(model: PromptedCLIP, tower: str, arm: str) -> str:
    """The arm whose forward equals `arm`'s in `tower`: itself where the tower holds prompts; without prompts
    every arm is the model as trained, except that the re-weighting arms drop the tower's learned biases."""
    config = model.config
    if (config.n_ctx_vision if tower == "image" else config.n_ctx_text):
        return arm
    biases = config.bias_vision if tower == "image" else config.bias_text
    return "reweighting" if arm.startswith("reweighting") and biases else "full"


def _full_text(model: PromptedCLIP, class_names: Sequence[str], template: str) -> torch.Tensor:
    with autocast(model.logit_scale.device):
        return model.encode_text(model.prompt_texts(class_names, template))


def _for(tower: str, arm: str, branch: str, constant: dict[str, PromptTerms] | None) -> Intervention | None:
    """The intervention a tower runs with: the arm when `branch` edits this tower, else none."""
    if branch not in (tower, "both") or arm == "full":
        return None
    terms = None
    if arm == "constant-bias":
        if constant is None:
            raise ValueError("the constant-bias arm needs the dataset's prompt terms: constant=prompt_term_means(...)")
        terms = constant.get(tower)
        if terms is None:  # this tower holds no prompts: its prompt term is zero everywhere
            return Intervention("bias")
    return Intervention(arm, terms)
