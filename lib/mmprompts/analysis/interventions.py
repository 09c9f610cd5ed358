"""The paper's two ways (Sec. 3.2.1), separated by transplant: a 2 × 3 factorial in the one forward.

Per block and head, eq. 12 writes the attention output of an input token i as

    u_i = (1 − s_i) Σ_j r_ij v_j + t_i

r the relative attention among the input tokens (renormalised over them), s the share of attention the
extra tokens take and t what they add (`prompted.AttentionParts`). The extra tokens are the prompts in
the prompted model and, in zero-shot CLIP, the template words the text prompts replace ("a photo of
a"; none in the image tower, where s = t = 0). Both forwards run on the same inputs and their parts are
recorded (`Trace(keep_parts=True)`); then the model is run again with, in every block of the edited
towers, r taken from one forward and (s, t) from one forward (`Intervention`: activation patching, the
values v always from the running states):

    factor A, the first way:   r from CLIP ("clip") or from the model ("model")
    factor B, the second way:  (s, t) from CLIP ("clip"), from the model ("model"), or the model's s with t
                               replaced by its mean over the dataset's training images ("mean": the book's
                               stricter reading of "dataset bias", a term fixed per block and position)
    The model's learned biases (bias tuning) belong to factor B: added unless B is "clip".

The corners are exact: (clip, clip) is zero-shot CLIP reading the model's token layout and (model,
model) the model itself, within float rounding (tests). The off-diagonal cells are each way alone. In
the image tower, CLIP's "(s, t) = (0, 0) with its own r" is also what "re-weighting renormalised over the
inputs" meant in this book's first version: an identity with CLIP, not an arm of its own.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import torch
import torch.nn.functional as F

from ..prompted import AttentionParts, Intervention, PromptedCLIP, PromptTerms, Trace
from ..train import autocast

__all__ = ["ARMS", "BRANCHES", "arm_correct", "intervened_logits", "prompt_term_means"]

BRANCHES = ("image", "text", "both")

# Each arm of the factorial by what it keeps: (where r comes from, where s and t come from).
ARMS: dict[str, tuple[str, str]] = {
    "clip": ("clip", "clip"),  # zero-shot CLIP (corner)
    "reweighting": ("model", "clip"),  # the first way alone: the model's relative attention, nothing added
    "prompt-term": ("clip", "model"),  # the second way alone: what the prompts add, CLIP's relative attention
    "full": ("model", "model"),  # the model as trained (corner)
    "constant-term": ("clip", "mean"),  # the second way alone as a fixed dataset bias (the book's reading)
    "reweighting-constant-term": ("model", "mean"),  # both, with the fixed term
}


class _Recorded:
    """One tower's parts of CLIP's and the model's forward on the same inputs, aligned to the model's layout."""

    def __init__(self, clip: list[AttentionParts], model: list[AttentionParts], constant: PromptTerms | None,
                 extras: bool, biases: bool, learned: bool):
        self.clip, self.model, self.constant = clip, model, constant
        self.extras, self.biases, self.learned = extras, biases, learned

    def sources(self, arm: str) -> tuple[str, str]:
        """`arm`'s (attention, term) sources, made canonical for this tower so that arms whose forwards are equal
        by construction run once: without extra tokens s = t = 0 in both forwards (the fixed term is 0 too), so
        the term's source is only whether the learned biases are added; a tower that learned nothing is CLIP's."""
        attention, term = ARMS[arm]
        if not self.extras:
            term = "model" if term == "mean" or not self.biases else term
        if not self.learned:
            attention, term = "model", "model"
        return attention, term

    def intervention(self, sources: tuple[str, str]) -> Intervention | None:
        """The edit that runs these (attention, term) sources in this tower (None: the plain forward, the model
        itself)."""
        attention, term = sources
        if (attention, term) == ("model", "model"):
            return None
        source = self.clip if term == "clip" else self.model
        fixed = self.constant if term == "mean" else None
        return Intervention(relative=[p.relative for p in (self.clip if attention == "clip" else self.model)],
                            share=[p.share for p in source],
                            term=fixed if fixed is not None else [p.term for p in source],
                            biases=term != "clip")


def _record(model: PromptedCLIP, encode, extra: slice | None = None) -> list[AttentionParts]:
    trace = Trace(keep_attention=False, keep_parts=True, extra=extra)
    encode(model, trace)
    return trace.parts


def _pad_to(parts: list[AttentionParts], length: int) -> list[AttentionParts]:
    """CLIP's image-tower parts (no prompt tokens) laid out as the prompted model's: the prompts are the last
    positions, where CLIP has no key (r = 0), no share and no term."""
    extra = length - parts[0].share.shape[-1]
    if extra == 0:
        return parts
    return [AttentionParts(F.pad(p.relative, (0, extra, 0, extra)), F.pad(p.share, (0, extra)),
                           F.pad(p.term, (0, 0, 0, extra))) for p in parts]


def _text_extra(model: PromptedCLIP) -> slice | None:
    """Where the text prompts sit, which in CLIP's forward hold the template words they replace."""
    n = model.config.n_ctx_text
    return slice(1, 1 + n) if n else None


def _image_parts(model: PromptedCLIP, reference: PromptedCLIP, images: torch.Tensor,
                 constant: PromptTerms | None, clip_parts: list[AttentionParts] | None = None) -> _Recorded:
    model_parts = _record(model, lambda m, t: m.encode_image(images, trace=t))
    if clip_parts is None:
        clip_parts = _record(reference, lambda m, t: m.encode_image(images, trace=t))
    c = model.config
    return _Recorded(_pad_to(clip_parts, model_parts[0].share.shape[-1]), model_parts, constant, extras=bool(c.n_ctx_vision),
                     biases=bool(c.bias_vision), learned=bool(c.n_ctx_vision or c.bias_vision or c.attention_bias_vision))


def _text_parts(model: PromptedCLIP, reference: PromptedCLIP, tokens: torch.Tensor,
                constant: PromptTerms | None) -> _Recorded:
    model_parts = _record(model, lambda m, t: m.encode_tokens(tokens, trace=t))
    clip_parts = _record(reference, lambda m, t: m.encode_tokens(tokens, trace=t), extra=_text_extra(model))
    c = model.config
    return _Recorded(clip_parts, model_parts, constant, extras=bool(c.n_ctx_text), biases=bool(c.bias_text),
                     learned=bool(c.n_ctx_text or c.bias_text or c.attention_bias_text))


def _check_images(model: PromptedCLIP, images: object, what: str = "images") -> torch.Tensor:
    size = model.loaded.image_size
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[0] == 0 or images.shape[1] != 3 \
            or tuple(images.shape[2:]) != (size, size):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"{what}: got {shape}; give a non-empty batch of normalised images [B, 3, {size}, {size}] "
                         "(the model's eval transform, `data.eval_transform`)")
    return images


def _check_classes(class_names: Sequence[str]) -> list[str]:
    names = list(class_names)
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ValueError(f"class_names={names!r}: give the dataset's class names (non-empty strings)")
    return names


def _check_constant(model: PromptedCLIP, constant: dict[str, PromptTerms] | None, texts: list[str],
                    towers: Sequence[str]) -> None:
    """The fixed terms fit this model (blocks, width) and, in the text tower, were taken over these class prompts."""
    if constant is None:
        raise ValueError("the constant-term arms need the dataset's mean prompt terms: constant=prompt_term_means(...)")
    for tower in towers:
        terms = constant.get(tower)
        blocks = model.clip.visual.transformer if tower == "image" else model.clip.transformer
        width = blocks.width
        if terms is None or len(terms.per_position) != len(blocks.resblocks) \
                or terms.per_position[0].shape[-1] != width:
            raise ValueError(f"constant[{tower!r}] does not fit this model ({len(blocks.resblocks)} blocks of width "
                             f"{width}): compute it with prompt_term_means(model, ...) on this model")
        tokens = model.clip.visual.positional_embedding.shape[0] + model.config.n_ctx_vision
        if tower == "image" and terms.per_position[0].shape[0] != tokens:
            raise ValueError(f"constant['image'] holds {terms.per_position[0].shape[0]} positions, this model's image "
                             f"tower {tokens}: compute it with prompt_term_means(model, ...) on this model")
        if tower == "text" and terms.texts is not None and tuple(texts) != terms.texts:
            raise ValueError("constant['text'] was taken over other class prompts than these: compute it with "
                             "prompt_term_means(model, images, class_names) on the same class names")


@torch.no_grad()
def prompt_term_means(model: PromptedCLIP, image_batches: Iterable[torch.Tensor], class_names: Sequence[str],
                      template: str = "a photo of a {}.") -> dict[str, PromptTerms]:
    """Per tower, the mean prompt term t of the model as trained at every block and token position.

    Image tower: the mean over the images of `image_batches` (the dataset's training images) at each
    position ([cls], every patch, the prompts). Text tower: the mean over the dataset's class prompts at
    each position before EOS, and apart at EOS (its position differs from class to class and it is the
    token read out). A tower without extra tokens gets zero terms (its t is zero)."""
    device = model.logit_scale.device
    names = _check_classes(class_names)
    sums, count = None, 0
    for index, images in enumerate(image_batches):
        images = _check_images(model, images, f"image batch {index + 1}")
        with autocast(device):
            parts = _record(model, lambda m, t: m.encode_image(images.to(device), trace=t))
        batch = [_flat(p.term).float().sum(0) for p in parts]
        sums = batch if sums is None else [a + b for a, b in zip(sums, batch)]
        count += len(images)
    if not count:
        raise ValueError("image_batches gave no images: pass the dataset's training images in batches "
                         "(an exhausted iterator gives none)")
    terms = {"image": PromptTerms([s / count for s in sums])}
    texts = model.prompt_texts(names, template)
    tokens = model.tokenize(texts).to(device)
    with autocast(device):
        trace = Trace(keep_attention=False, keep_parts=True)
        model.encode_tokens(tokens, trace=trace)
    eos = trace.eos
    rows = torch.arange(len(eos), device=eos.device)
    recorded = [_flat(p.term).float() for p in trace.parts]
    before_eos = (torch.arange(recorded[0].shape[1], device=eos.device)[None] < eos[:, None]).float()
    per_position = [(t * before_eos[..., None]).sum(0) / before_eos.sum(0).clamp_min(1)[:, None] for t in recorded]
    terms["text"] = PromptTerms(per_position, [t[rows, eos].mean(0) for t in recorded], tuple(texts))
    return terms


def _flat(term: torch.Tensor) -> torch.Tensor:
    """[B, H, L, d] -> [B, L, H * d], the heads concatenated as the block's out_proj reads them."""
    return term.transpose(1, 2).flatten(2)


def intervened_logits(model: PromptedCLIP, images: torch.Tensor, class_names: Sequence[str], *, arm: str,
                      branch: str, template: str = "a photo of a {}.",
                      constant: dict[str, PromptTerms] | None = None) -> torch.Tensor:
    """Logits [B, C] of the model with `arm` (one of ARMS) in the towers of `branch` ("image", "text",
    "both"); the other tower runs as trained. `constant` (from `prompt_term_means` on this model and these
    class names) is needed by the two constant-term arms. Arm "full" gives the model's own logits and arm
    "clip" with branch "both" zero-shot CLIP's on the model's token layout."""
    if arm not in ARMS:
        raise ValueError(f"arm={arm!r}: choose one of {tuple(ARMS)}")
    if branch not in BRANCHES:
        raise ValueError(f"branch={branch!r}: choose one of {BRANCHES}")
    images = _check_images(model, images)
    labels = torch.zeros(len(images), dtype=torch.long)
    correct = _evaluate(model, [(images, labels)], class_names, constant, template, [arm], [branch], keep_logits=True)
    return correct[(branch, arm)]


@torch.no_grad()
def arm_correct(model: PromptedCLIP, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], class_names: Sequence[str],
                constant: dict[str, PromptTerms] | None, template: str = "a photo of a {}.",
                arms: Sequence[str] = tuple(ARMS),
                clip_image_parts: list[list[AttentionParts]] | None = None) -> dict[tuple[str, str], torch.Tensor]:
    """Which test images each (branch, arm) classifies correctly: {(branch, arm): [N] bool}, the same numbers as
    `intervened_logits(...).argmax(-1) == labels`, with both forwards recorded once per batch.

    `clip_image_parts`: zero-shot CLIP's image-tower parts of each batch, kept across calls on the same batches
    by models of one CLIP (the runs of one dataset): an empty list is filled on the first call and read by the
    next ones, which then skip CLIP's image forward (its parts do not depend on the prompted model)."""
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise ValueError(f"arms={unknown}: choose from {tuple(ARMS)}")
    return _evaluate(model, batches, class_names, constant, template, list(arms), list(BRANCHES),
                     clip_image_parts=clip_image_parts)


@torch.no_grad()
def _evaluate(model: PromptedCLIP, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], class_names: Sequence[str],
              constant: dict[str, PromptTerms] | None, template: str, arms: list[str], branches: list[str],
              keep_logits: bool = False, clip_image_parts: list[list[AttentionParts]] | None = None
              ) -> dict[tuple[str, str], torch.Tensor]:
    device = model.logit_scale.device
    names = _check_classes(class_names)
    texts = model.prompt_texts(names, template)
    if any(ARMS[a][1] == "mean" for a in arms):
        _check_constant(model, constant, texts, [t for t in ("image", "text") if any(b in (t, "both") for b in branches)])
    reference = model.zero_shot()
    tokens = model.tokenize(texts).to(device)
    with autocast(device):
        text_parts = _text_parts(model, reference, tokens, (constant or {}).get("text"))
        text_sources = {arm: text_parts.sources(arm) for arm in ["full", *arms]}
        text_runs = {key: model.encode_tokens(tokens, intervention=text_parts.intervention(key))
                     for key in dict.fromkeys(text_sources.values())}
        text = {arm: text_runs[key] for arm, key in text_sources.items()}
    out: dict[tuple[str, str], list[torch.Tensor]] = {}
    seen = 0
    replay = bool(clip_image_parts)  # recorded by an earlier call on the same batches
    for index, batch in enumerate(batches):
        if isinstance(batch, torch.Tensor) or len(batch) != 2:
            raise ValueError(f"image batch {index + 1}: got {type(batch).__name__}; give (images, labels) pairs, e.g. "
                             "a DataLoader of the test split")
        images, labels = batch
        images = _check_images(model, images, f"image batch {index + 1}").to(device)
        seen += len(images)
        clip_parts = None
        if replay:
            if index >= len(clip_image_parts) or clip_image_parts[index][0].share.shape[0] != len(images):
                raise ValueError(f"clip_image_parts holds no parts of image batch {index + 1} ({len(images)} images): "
                                 "share it only across calls on the same batches (or pass a new empty list)")
            clip_parts = clip_image_parts[index]
        with autocast(device):
            if clip_parts is None:
                clip_parts = _record(reference, lambda m, t: m.encode_image(images, trace=t))
                if clip_image_parts is not None:
                    clip_image_parts.append(clip_parts)
            image_parts = _image_parts(model, reference, images, (constant or {}).get("image"), clip_parts)
            image_sources = {arm: image_parts.sources(arm) for arm in ["full", *arms]}
            image_runs = {key: model.encode_image(images, intervention=image_parts.intervention(key))
                          for key in dict.fromkeys(image_sources.values())}
            image = {arm: image_runs[key] for arm, key in image_sources.items()}
        for arm in arms:
            pairs = {"image": (image[arm], text["full"]), "text": (image["full"], text[arm]), "both": (image[arm], text[arm])}
            for branch in branches:
                logits = model.logits(*pairs[branch]).float()
                value = logits.cpu() if keep_logits else (logits.argmax(-1) == labels.to(device)).cpu()
                out.setdefault((branch, arm), []).append(value)
    if not seen:
        raise ValueError("batches gave no images: pass (images, labels) batches of the test split")
    return {key: torch.cat(parts) for key, parts in out.items()}
