"""Prompts trained elsewhere: checkpoints of the MaPLe/PromptSRC code base (IVLP, VPT, MaPLe) and of CoOp.

Both code bases save with Dassl: `torch.save({"state_dict": ..., "epoch": ..., ...})` in
`<output>/<model name>/model.pth.tar-<epoch>`. The state-dict layouts read here:

  IVLP / PromptSRC  prompt_learner.ctx [n_t, W_t]                   text prompts before block 0
                    text_encoder.transformer.resblocks.{i}.VPT_shallow   text prompts before block i >= 1
                    image_encoder.VPT [n_v, W_v]                    vision prompts before block 0
                    image_encoder.transformer.resblocks.{i}.VPT_shallow  vision prompts before block i >= 1
                    + the frozen CLIP under image_encoder.* / text_encoder.*
  VPT               the vision keys of IVLP; the text is the fixed "a photo of a <class>."
  MaPLe             prompt_learner.ctx, .proj, .compound_prompts_text.{j}, .compound_prompt_projections.{j}:
                    vision prompts proj(ctx) and projection_j(compound_j) sit where IVLP puts its
                    vision prompts, so MaPLe imports as (fixed) IVLP prompts
  CoOp              ctx [n, W_t] (generic context), token_prefix, token_suffix; class name at the end

This library's own `learned.pt` (a run folder of the cache, with its `config.json`) imports too.
An imported model is a `PromptedCLIP`, so every analysis runs on it unchanged. Files are read
without running code from them (`storage.load_untrusted`).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
import torch.nn.functional as F

from .models import LoadedCLIP
from .prompted import PromptConfig, PromptedCLIP
from .runs import method_from_key
from .storage import Unloaded, load_untrusted

__all__ = ["FORMATS", "PRECISIONS", "export_prompts", "import_prompts"]

FORMATS = ("ivlp", "vpt", "maple", "coop")
PRECISIONS = ("auto", "fp32", "fp16")
_OWN = re.compile(r"(vision_prompts|text_prompts|vision_bias|text_bias)\.\d+$")  # PromptedCLIP.learned_state()
_DEEP = re.compile(r"(image_encoder|text_encoder)\.transformer\.resblocks\.(\d+)\.VPT_shallow$")
_COMPOUND = re.compile(r"prompt_learner\.compound_prompts_text\.(\d+)$")
# The MaPLe/CoOp code bases build prompt strings "<prefix> <class>." from CTX_INIT only up to 4 context words.
_MAX_CTX_INIT_WORDS = 4


def import_prompts(path: str | os.PathLike, clip: LoadedCLIP, *, ctx_init: str = "a photo of a",
                   class_token_position: str = "end", precision: str = "auto") -> PromptedCLIP:
    """A PromptedCLIP holding the prompts of an IVLP/PromptSRC, VPT, MaPLe or CoOp checkpoint.

    The format is detected from the keys. `ctx_init` is the trainer's CTX_INIT (IVLP/MaPLe; the
    checkpoint does not store it); `class_token_position` is CoOp's CLASS_TOKEN_POSITION (not
    stored either; only "end" is supported). Backbone weights in the checkpoint must equal
    `clip`'s up to fp16 rounding.

    `precision`: "auto" rounds to fp16 exactly the prompts the peer's forward casts with `.half()`
    before inserting them, whatever precision it trained in (IVLP/VPT: `VPT`, `VPT_shallow`; MaPLe:
    its vision prompts and deeper text prompts; never the first text prompts, which enter in the
    dtype they are stored in), so features match the peer's; "fp32" takes every tensor as stored;
    "fp16" rounds every prompt.

    A Dassl checkpoint pickles its optimizer and scheduler objects: they are read as inert
    placeholders, never imported or run (a file that would call a function is refused).
    A `learned.pt` of this library's run cache imports with the method of its run's `config.json`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}: choose one of {PRECISIONS} ('auto': round what the peer's forward rounds)")
    state = _read_state_dict(Path(path))
    if all(_OWN.match(k) for k in state):
        return _import_own(Path(path), state, clip, precision)
    fmt = _detect(state)
    if fmt == "coop":
        _check_coop(state, class_token_position)
    vision, text = (_rounded(prompts, precision) for prompts in _READERS[fmt](state))
    _check_shapes(vision, text, clip)
    _check_backbone(state, clip)

    n_text = text[0][1].shape[0] if text else 0
    prefix_init = ""  # "X X .. X": every context position is learned (CoOp), or CTX_INIT is not used (n > 4)
    if fmt in ("ivlp", "maple") and ctx_init and n_text <= _MAX_CTX_INIT_WORDS:
        if n_text > len(ctx_init.split()):
            raise ValueError(f"ctx_init={ctx_init!r} has fewer words than the checkpoint's {n_text} text prompts; "
                             "pass the CTX_INIT the prompts were trained with")
        prefix_init = ctx_init.replace("_", " ")
    config = PromptConfig(n_ctx_vision=vision[0][1].shape[0] if vision else 0, n_ctx_text=n_text,
                          depth_vision=len(vision), depth_text=len(text), ctx_init=prefix_init)
    with torch.random.fork_rng(devices=[]):  # the random initial prompts are overwritten below
        model = PromptedCLIP(clip, config)
    model.load_learned_state({**{f"vision_prompts.{i}": t for i, (_, t) in enumerate(vision)},
                              **{f"text_prompts.{i}": t for i, (_, t) in enumerate(text)}})
    return model


def _import_own(path: Path, state: dict[str, torch.Tensor], clip: LoadedCLIP, precision: str) -> PromptedCLIP:
    """A `learned.pt` of the run cache: the method is in the run folder's config.json, next to it."""
    config_file = path.with_name("config.json")
    try:
        run = json.loads(config_file.read_text())
        method = method_from_key(run["method"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{str(path)} holds this library's learned tensors, but {str(config_file)!r} (its run's "
                         f"config, which says the method) cannot be read ({err}); import the run folder's "
                         "learned.pt where the cache wrote it") from None
    if run.get("model") != clip.identity:
        raise ValueError(f"{str(path)} was trained on model {run.get('model')!r}, not {clip.identity!r}: load that model")
    tensors = _rounded(list(state.items()), "fp32" if precision == "auto" else precision)  # trained here in fp32
    with torch.random.fork_rng(devices=[]):
        model = PromptedCLIP(clip, method)
    try:
        model.load_learned_state(dict(tensors))
    except (ValueError, RuntimeError) as err:
        raise ValueError(f"{str(path)} does not fit its run's method {method}: {err}") from None
    return model


def export_prompts(model: PromptedCLIP, path: str | os.PathLike, format: str = "ivlp") -> dict[str, object]:
    """Write the model's prompts as a Dassl checkpoint of the MaPLe/PromptSRC code base (or CoOp).

    format "ivlp" (text prompts, optional vision prompts), "vpt" (vision prompts only) or "coop"
    (input-level text prompts only). Returns the trainer settings the code base must be run with
    (N_CTX_*, PROMPT_DEPTH_*, CTX_INIT), which the checkpoint cannot carry.
    """
    if format not in ("ivlp", "vpt", "coop"):
        raise ValueError(f"format={format!r}: export writes 'ivlp', 'vpt' or 'coop' (MaPLe prompts are not free tensors)")
    c = model.config
    if c.bias_vision or c.bias_text or c.attention_bias_vision or c.attention_bias_text:
        raise ValueError(f"{model.config}: biases have no place in the {format} layout; export a model without biases")
    vision = [p.detach().cpu().float() for p in model.vision_prompts]
    text = [p.detach().cpu().float() for p in model.text_prompts]
    ctx_init = "" if model.prompt_prefix == " ".join(["X"] * c.n_ctx_text) else model.prompt_prefix
    wanted = {"ivlp": bool(text), "vpt": bool(vision) and not text, "coop": not vision and len(text) == 1}
    if not wanted[format]:
        raise ValueError(f"format={format!r} does not fit {c}: ivlp needs text prompts, vpt vision prompts only, "
                         "coop input-level text prompts only")
    if format == "ivlp" and ctx_init and c.n_ctx_text > _MAX_CTX_INIT_WORDS:
        raise ValueError(f"prompt prefix {ctx_init!r} with {c.n_ctx_text} text prompts: the IVLP trainer uses CTX_INIT "
                         f"only up to {_MAX_CTX_INIT_WORDS} prompts; use ctx_init='' for X placeholders")
    if format == "coop" and ctx_init and c.n_ctx_text != len(ctx_init.split()):
        raise ValueError(f"prompt prefix {ctx_init!r} with {c.n_ctx_text} text prompts: CoOp learns every word of "
                         "CTX_INIT; use ctx_init='' or one with exactly n_ctx words")

    if format == "coop":
        state = {"ctx": text[0]}
        settings = {"N_CTX": c.n_ctx_text, "CTX_INIT": ctx_init, "CSC": False, "CLASS_TOKEN_POSITION": "end"}
    else:
        state = {}
        if text:
            state["prompt_learner.ctx"] = text[0]
        state.update({f"text_encoder.transformer.resblocks.{i}.VPT_shallow": t for i, t in enumerate(text) if i})
        if vision:
            state["image_encoder.VPT"] = vision[0]
        state.update({f"image_encoder.transformer.resblocks.{i}.VPT_shallow": t for i, t in enumerate(vision) if i})
        settings = {"N_CTX_VISION": c.n_ctx_vision, "PROMPT_DEPTH_VISION": c.depth_vision}
        if format == "ivlp":
            settings.update(N_CTX_TEXT=c.n_ctx_text, PROMPT_DEPTH_TEXT=c.depth_text, CTX_INIT=ctx_init)
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder; give a file name, e.g. {str(path / 'model.pth.tar-1')!r} "
                         "(Dassl's name for the checkpoint of epoch 1)")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Dassl's load_model reads "state_dict" and "epoch"; the code base loads the frozen CLIP itself.
    torch.save({"state_dict": state, "epoch": 0, "optimizer": None, "scheduler": None, "val_result": None}, path)
    return settings


# ----------------------------------------------------------------------------- reading
def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        what = f"{str(path)!r} is a folder, not a checkpoint file" if path.is_dir() else f"no checkpoint at {path}"
        raise FileNotFoundError(f"{what}; Dassl writes <output>/<model name>/model.pth.tar-<epoch> "
                                "(model name VLPromptLearner for IVLP, MultiModalPromptLearner for MaPLe, "
                                "prompt_learner for VPT and CoOp)")
    loaded = load_untrusted(path)
    state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict) or not state:
        raise ValueError(f"{path} holds no state dict of tensors (a Dassl checkpoint has one under 'state_dict'; "
                         f"found {type(loaded).__name__}{' with keys ' + str(list(loaded)[:8]) if isinstance(loaded, dict) else ''})")
    for key, value in state.items():
        if not torch.is_tensor(value):
            what = f"a pickled {value.qualified_name} (not loaded)" if isinstance(value, Unloaded) else type(value).__name__
            raise ValueError(f"{path}: state dict entry {key!r} is {what}, not a tensor; a checkpoint's state dict "
                             "holds only tensors")
    # DataParallel prefixes every key with "module."
    return {k.removeprefix("module."): v for k, v in state.items()}


def _detect(state: dict[str, torch.Tensor]) -> str:
    if "prompt_learner.proj.weight" in state or any(_COMPOUND.match(k) for k in state):
        return "maple"
    if "prompt_learner.ctx" in state:
        return "ivlp"
    if "image_encoder.VPT" in state:
        return "vpt"
    if "ctx" in state:
        return "coop"
    seen = sorted(k for k in state if not _is_backbone(k))[:12] or sorted(state)[:12]
    raise ValueError(f"unknown checkpoint layout: keys {seen}; expected prompt_learner.ctx (IVLP/PromptSRC, MaPLe), "
                     "image_encoder.VPT (VPT) or ctx (CoOp)")


def _check_coop(state: dict[str, torch.Tensor], class_token_position: str) -> None:
    if state["ctx"].dim() == 3:
        raise ValueError(f"class-specific CoOp contexts (CSC, ctx {list(state['ctx'].shape)}) are not supported: "
                         "a PromptedCLIP shares one set of prompts among all classes")
    if class_token_position != "end":
        raise ValueError(f"class_token_position={class_token_position!r} is not supported: the prompts must directly "
                         "follow the start token, as in IVLP; only CoOp's default 'end' imports")


Prompts = list[tuple[str, torch.Tensor]]  # per prompted block from block 0: (checkpoint key, tensor [n_ctx, width])


def _deep(state: dict[str, torch.Tensor], tower: str, first: str) -> Prompts:
    """Layer-0 prompts under `first`, then VPT_shallow of blocks 1, 2, ... (must be consecutive)."""
    blocks = sorted(int(m.group(2)) for k in state if (m := _DEEP.match(k)) and m.group(1) == tower)
    if first not in state:
        if blocks:
            raise ValueError(f"unknown checkpoint layout: {tower} VPT_shallow of blocks {blocks} without {first}")
        return []
    if blocks != list(range(1, len(blocks) + 1)):
        raise ValueError(f"unknown checkpoint layout: {tower} VPT_shallow of blocks {blocks}, expected 1, 2, ... consecutive")
    keys = [first] + [f"{tower}.transformer.resblocks.{i}.VPT_shallow" for i in blocks]
    return [(k, state[k].float()) for k in keys]


def _read_ivlp(state: dict[str, torch.Tensor]) -> tuple[Prompts, Prompts]:
    return _deep(state, "image_encoder", "image_encoder.VPT"), _deep(state, "text_encoder", "prompt_learner.ctx")


def _read_vpt(state: dict[str, torch.Tensor]) -> tuple[Prompts, Prompts]:
    return _deep(state, "image_encoder", "image_encoder.VPT"), []


def _read_maple(state: dict[str, torch.Tensor]) -> tuple[Prompts, Prompts]:
    count = len([k for k in state if _COMPOUND.match(k)])
    names = [f"prompt_learner.compound_prompts_text.{j}" for j in range(count)]
    needed = ["prompt_learner.ctx", "prompt_learner.proj.weight", "prompt_learner.proj.bias"] + names + [
        f"prompt_learner.compound_prompt_projections.{j}.{p}" for j in range(count) for p in ("weight", "bias")]
    missing = [k for k in needed if k not in state]
    if missing:
        raise ValueError(f"unknown checkpoint layout: a MaPLe checkpoint without {missing}")
    text = [("prompt_learner.ctx", state["prompt_learner.ctx"].float())] + [(k, state[k].float()) for k in names]
    projections = ["prompt_learner.proj"] + [f"prompt_learner.compound_prompt_projections.{j}" for j in range(count)]
    vision = [(f"{p}(...)", F.linear(t, state[f"{p}.weight"].float(), state[f"{p}.bias"].float()))
              for p, (_, t) in zip(projections, text)]
    return vision, text


def _read_coop(state: dict[str, torch.Tensor]) -> tuple[Prompts, Prompts]:
    return [], [("ctx", state["ctx"].float())]


_READERS = {"ivlp": _read_ivlp, "vpt": _read_vpt, "maple": _read_maple, "coop": _read_coop}


def _cast_by_peer(key: str) -> bool:
    """Whether the peer's forward casts this prompt with `.half()` before inserting it (in every PREC):
    IVLP's and VPT's `VPT` / `VPT_shallow`, MaPLe's vision prompts (`proj(...)`) and deeper text prompts."""
    return key.endswith(("VPT", "VPT_shallow", "(...)")) or bool(_COMPOUND.match(key))


def _rounded(prompts: Prompts, precision: str) -> Prompts:
    """The prompts as the forward uses them (see import_prompts' `precision`); non-finite ones are refused."""
    for key, tensor in prompts:
        if not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"{key} holds non-finite values (NaN or inf): the run that wrote it diverged; "
                             "import a checkpoint of a run that trained")
    return [(k, t.half().float() if precision == "fp16" or (precision == "auto" and _cast_by_peer(k)) else t)
            for k, t in prompts]


# ----------------------------------------------------------------------------- checks against the model
def _check_shapes(vision: Prompts, text: Prompts, clip: LoadedCLIP) -> None:
    model = clip.model
    for tower, prompts, width, blocks in (
        ("vision", vision, model.visual.transformer.width, len(model.visual.transformer.resblocks)),
        ("text", text, model.transformer.width, len(model.transformer.resblocks)),
    ):
        if len(prompts) > blocks:
            raise ValueError(f"{prompts[-1][0]}: {tower} prompts in {len(prompts)} blocks, but the model's {tower} tower "
                             f"has {blocks}; load the backbone the prompts were trained on")
        for key, tensor in prompts:
            if tensor.dim() != 2:
                raise ValueError(f"{key} has shape {list(tensor.shape)}: prompts are a 2-D [n_ctx, width] tensor per "
                                 "block; this is not a prompt checkpoint of IVLP, VPT, MaPLe or CoOp")
            if tensor.shape[1] != width:
                raise ValueError(f"{key} has shape {list(tensor.shape)}, but the model's {tower} width is {width}: "
                                 "load the backbone the prompts were trained on (e.g. ViT-B/16: text 512, vision 768)")
            if tensor.shape != prompts[0][1].shape:
                raise ValueError(f"{key} has {tensor.shape[0]} prompts, {prompts[0][0]} {prompts[0][1].shape[0]}: "
                                 "every block must have the same number")


def _is_backbone(key: str) -> bool:
    return (key.startswith(("image_encoder.", "text_encoder.")) and not key.endswith(("VPT", "VPT_shallow"))) \
        or key == "logit_scale"


def _check_backbone(state: dict[str, torch.Tensor], clip: LoadedCLIP) -> None:
    """The checkpoint's frozen CLIP (and CoOp's/IVLP's stored start-token embedding) against `clip`."""
    ours = clip.model.state_dict()
    pairs = [(k, k.replace("image_encoder.", "visual.", 1).removeprefix("text_encoder.")) for k in state if _is_backbone(k)]
    sot = clip.model.token_embedding.weight[clip.tokenizer.sot_token_id]
    for key in ("prompt_learner.token_prefix", "token_prefix"):  # [n_cls, 1, W]: the start token's embedding
        if key in state and state[key].shape[-1] == sot.shape[0]:
            ours[key] = sot.expand_as(state[key])
            pairs.append((key, key))
    for theirs, mine in pairs:
        if mine not in ours or ours[mine].shape != state[theirs].shape:
            raise ValueError(f"backbone weight {theirs} {list(state[theirs].shape)} has no counterpart in the model "
                             f"({mine}): the prompts were trained on another architecture; load that CLIP")
        reference = ours[mine].detach().float().cpu()
        if not torch.allclose(state[theirs].float(), reference, rtol=2**-10, atol=2**-24):  # fp16: 11 significant bits
            difference = (state[theirs].float() - reference).abs().max().item()
            raise ValueError(f"backbone weight {theirs} differs from the model's {mine} by up to {difference:.3g}, more "
                             "than fp16 rounding: the prompts were trained on another backbone; load that CLIP "
                             "(the paper's: ViT-B-16-quickgelu, pretrained 'openai')")
