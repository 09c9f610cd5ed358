"""Load a frozen open_clip ViT CLIP: by hub name + tag, from a local file, or randomly initialised.

Every analysis and every training run starts here, so the rules live in one place:
the model is always in eval mode with every backbone weight frozen, the OpenAI weights
always run with QuickGELU, and offline use of hub weights fails in seconds with a message
that says how to supply a local file.
"""
from __future__ import annotations

import contextlib
import difflib
import hashlib
import http.client
import json
import logging
import os
import threading
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import open_clip
import torch
from open_clip.model import CLIP
from open_clip.transformer import ResidualAttentionBlock, VisionTransformer

from .storage import load_untrusted

__all__ = [
    "LoadedCLIP", "SHIPPED_MODELS", "WeightsUnavailableError", "load_clip", "manifest_path", "resolve_model_name",
    "untrained_token_rows",
]

_HUB_PROBE_TIMEOUT_S = 3.0
ASSETS = Path(__file__).parent / "assets"
# Models whose config and weights ship with the package: name -> pretrained tag -> weights file.
# Each weights file has a manifest `<file>.json` with its sha256 (and how it was made).
SHIPPED_MODELS: dict[str, dict[str, Path]] = {
    "mini-clip": {"mini-world": ASSETS / "mini-clip-mini-world.pt"},
}


def manifest_path(weights: Path) -> Path:
    """The manifest of a weights file: `<file>.json` next to it."""
    return weights.with_name(weights.name + ".json")


class WeightsUnavailableError(RuntimeError):
    """Hub weights are neither cached nor reachable."""


@dataclass
class LoadedCLIP:
    """A frozen CLIP plus what the rest of the library needs to use it."""

    model: CLIP
    tokenizer: open_clip.tokenizer.SimpleTokenizer
    name: str
    identity: str  # stable description of the weights, part of every run-cache key
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def context_length(self) -> int:
        return int(self.model.positional_embedding.shape[0])

    @property
    def depth(self) -> int:
        """Blocks both towers have: the most that symmetric prompts or biases can fill."""
        return min(len(self.model.visual.transformer.resblocks), len(self.model.transformer.resblocks))


def resolve_model_name(name: str, pretrained: str | None) -> str:
    """Map a name + tag to the architecture that computes what the weights were trained for.

    `name` may also be the path of an open_clip model-config JSON (its file stem becomes the name).
    The OpenAI weights were trained with QuickGELU; open_clip's plain `ViT-B-16` + `openai`
    only warns and then computes with nn.GELU. We switch to the `-quickgelu` variant
    instead of refusing, because that is what every user of those weights means.
    """
    if name in SHIPPED_MODELS:
        name = str(ASSETS / f"{name}.json")
    if name.endswith(".json"):  # a custom architecture given as an open_clip config file
        config = Path(name).expanduser()
        if not config.is_file():
            raise ValueError(f"model config file {name!r} does not exist")
        try:
            fields = json.loads(config.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"model config file {name!r} is not JSON ({err}); give an open_clip model config "
                             "(a JSON object with embed_dim, vision_cfg, text_cfg)") from None
        missing = [k for k in ("embed_dim", "vision_cfg", "text_cfg") if not isinstance(fields, dict) or k not in fields]
        if missing:
            raise ValueError(f"model config file {name!r} is not an open_clip model config: it lacks {missing}")
        open_clip.add_model_config(config)
        name = config.stem
    known = open_clip.list_models()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
        hint = f" Did you mean one of {close}?" if close else ""
        raise ValueError(f"unknown open_clip model {name!r}.{hint} See open_clip.list_models().")
    if pretrained and not name.endswith("-quickgelu"):
        cfg = open_clip.get_pretrained_cfg(name, pretrained)
        if cfg.get("quick_gelu") and f"{name}-quickgelu" in known:
            return f"{name}-quickgelu"
    return name


def load_clip(
    name: str = "ViT-B-16-quickgelu",
    pretrained: str | None = None,
    *,
    checkpoint: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    cache_dir: str | os.PathLike | None = None,
    init_seed: int = 0,
) -> LoadedCLIP:
    """Load an open_clip ViT CLIP, frozen and in eval mode.

    Exactly one source of weights is used:
      * `pretrained` — an open_clip tag (e.g. ``"openai"``), fetched from or found in the
        hub cache (`cache_dir`, else ``HF_HUB_CACHE`` / ``~/.cache/huggingface``);
      * `checkpoint` — a local file: an open_clip/state-dict checkpoint or the original
        OpenAI TorchScript archive (``ViT-B-16.pt``);
      * neither — random initialisation seeded with `init_seed` (for tests and tools).
    """
    if pretrained and checkpoint:
        raise ValueError("give either pretrained=<tag> or checkpoint=<file>, not both")
    arch = resolve_model_name(name, pretrained)
    with torch.random.fork_rng(devices=[]), _quiet_open_clip():
        torch.manual_seed(init_seed)
        model = open_clip.create_model(arch, pretrained=None)
    _check_supported(model, arch)  # before looking for weights: an unsupported model needs none

    weights_file = None
    if pretrained and arch in SHIPPED_MODELS:
        checkpoint = _shipped_weights(arch, pretrained)
    elif pretrained:
        if not open_clip.get_pretrained_cfg(arch, pretrained):
            tags = open_clip.list_pretrained_tags_by_model(arch)
            raise ValueError(f"unknown pretrained tag {pretrained!r} for {arch!r}; available: {tags}")
        weights_file = _hub_weights_offline(arch, pretrained, cache_dir)

    if checkpoint is not None:
        _load_checkpoint(model, Path(checkpoint))
        identity = f"{arch}:{pretrained or 'file'}:{_sha256(Path(checkpoint))[:16]}"
    elif pretrained:
        _load_pretrained(model, arch, pretrained, weights_file, cache_dir)
        identity = f"{arch}:{pretrained}"
    else:
        identity = f"{arch}:random:{init_seed}"

    model = model.to(device).eval().requires_grad_(False)
    cfg = open_clip.get_pretrained_cfg(arch, pretrained) if pretrained and arch not in SHIPPED_MODELS else {}
    image_size = model.visual.image_size
    return LoadedCLIP(
        model=model,
        tokenizer=open_clip.get_tokenizer(arch),
        name=arch,
        identity=identity,
        image_size=int(image_size[0] if isinstance(image_size, tuple) else image_size),
        mean=tuple(cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)),
        std=tuple(cfg.get("std", open_clip.OPENAI_DATASET_STD)),
    )


def _shipped_weights(arch: str, tag: str) -> Path:
    """The shipped weights file of `arch`/`tag`, after checking it is the file its manifest names."""
    tags = SHIPPED_MODELS[arch]
    if tag not in tags:
        raise ValueError(f"unknown pretrained tag {tag!r} for {arch!r}; available: {sorted(tags)}")
    path = tags[tag]
    manifest = manifest_path(path)
    if not path.is_file() or not manifest.is_file():
        raise FileNotFoundError(
            f"the shipped weights {str(path)!r} (or their manifest) are missing; reinstall the package "
            f"or regenerate them with `python -m mmprompts.pretrain`"
        )
    expected = json.loads(manifest.read_text())["sha256"]
    if _sha256(path) != expected:
        raise ValueError(
            f"checkpoint {str(path)!r} is corrupted: its sha256 does not match {manifest.name}. Restore it "
            f"(git checkout -- {path.name}) or regenerate it with `python -m mmprompts.pretrain`"
        )
    return path


def untrained_token_rows(vocab_size: int, width: int) -> torch.Tensor:
    """The token-embedding rows a sparse checkpoint does not store: fixed N(0, 0.02) draws.

    A small model pretrained on a small vocabulary learns only a few hundred of the
    tokenizer's 49,408 rows; the rest keep their initial values. Drawing those from a fixed
    generator (the same at pretraining and at loading) lets the checkpoint store only the
    learned rows while every other word stays a distinct, meaningless vector.
    """
    generator = torch.Generator().manual_seed(0)
    return torch.randn(vocab_size, width, generator=generator) * 0.02


@contextlib.contextmanager
def _quiet_open_clip():
    """open_clip logs a warning for every model built without weights; we load them ourselves."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _check_supported(model: torch.nn.Module, arch: str) -> None:
    """Refuse what the explicit forward in `prompted.py` does not reproduce exactly."""
    if not isinstance(model, CLIP):
        raise ValueError(
            f"{arch!r} builds a {type(model).__name__}; only open_clip's CLIP class "
            "(ViT image tower + its own text transformer) is supported"
        )
    visual = model.visual
    if not isinstance(visual, VisionTransformer):
        raise ValueError(f"{arch!r} is not a ViT (its image tower is a {type(visual).__name__}): this library "
                         "prompts ViT towers only; use a ViT model, e.g. ViT-B-16-quickgelu (the paper's)")
    if visual.attn_pool is not None or visual.pool_type != "tok" or visual.final_ln_after_pool:
        raise ValueError(f"{arch!r} does not pool the [cls] token after ln_post; unsupported")
    if model.text_pool_type != "argmax":
        raise ValueError(f"{arch!r} pools text with {model.text_pool_type!r}; only 'argmax' (EOS) is supported")
    blocks = list(visual.transformer.resblocks) + list(model.transformer.resblocks)
    if not all(type(b) is ResidualAttentionBlock for b in blocks):
        raise ValueError(f"{arch!r} uses custom attention blocks; only the standard CLIP block is supported")


def _hub_weights_offline(arch: str, tag: str, cache_dir) -> str | None:
    """Return a cached weights file when the hub is unreachable; None when it is reachable.

    open_clip itself retries an unreachable hub for about a minute before failing; we
    probe once (3 s for the whole request) and either hand it over or answer from the cache.
    """
    cfg = open_clip.get_pretrained_cfg(arch, tag)
    server = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co") if cfg.get("hf_hub") else cfg.get("url", ""))
    host = server.netloc
    offline_env = os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}
    if not offline_env and host and _answers(f"{server.scheme}://{host}/"):
        return None
    cached = _cached_weights(cfg, cache_dir)
    if cached:
        return cached
    where = cache_dir or os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")), "hub"
    )
    raise WeightsUnavailableError(
        f"pretrained weights {arch!r}/{tag!r} are not in the cache ({where}) and {host} cannot be "
        f"reached. Download the file on a connected machine (open_clip: "
        f"{cfg.get('hf_hub') or cfg.get('url')}) and pass it as a local file: "
        f"load_clip({arch!r}, checkpoint='/path/to/file') or the CLI option --checkpoint PATH; "
        f"the original OpenAI ViT-B-16.pt TorchScript archive works too. Alternatively copy the "
        f"hub cache into {where}."
    )


def _answers(url: str) -> bool:
    """Whether the server of `url` answers an HTTP request within _HUB_PROBE_TIMEOUT_S in all.

    A TCP connect is not enough: a proxy or firewall that accepts connections and never answers
    would hang the download. urllib's timeout bounds each socket operation, not their sum, so the
    request runs in a daemon thread and the deadline bounds DNS, connect, TLS and the answer together.
    """
    answered = threading.Event()

    def request() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=_HUB_PROBE_TIMEOUT_S).close()
            answered.set()
        except urllib.error.HTTPError:  # any HTTP status is an answer
            answered.set()
        except (OSError, ValueError, http.client.HTTPException):  # refused, timed out, TLS, not HTTP, bad URL
            pass

    probe = threading.Thread(target=request, daemon=True, name="mmprompts-hub-probe")
    probe.start()
    probe.join(_HUB_PROBE_TIMEOUT_S)
    return answered.is_set()


def _cached_weights(cfg: dict, cache_dir) -> str | None:
    if cfg.get("hf_hub"):
        from huggingface_hub import try_to_load_from_cache

        repo_id, filename = os.path.split(cfg["hf_hub"])
        filename = filename or "open_clip_pytorch_model.bin"
        stem = filename.rsplit(".", 1)[0].replace("pytorch_model", "model")
        for candidate in (f"{stem}.safetensors", filename):
            hit = try_to_load_from_cache(repo_id, candidate, cache_dir=cache_dir)
            if isinstance(hit, str):
                return hit
    if cfg.get("url"):
        root = Path(cache_dir or os.path.expanduser("~/.cache/clip"))
        local = root / os.path.basename(urlparse(cfg["url"]).path)
        if local.is_file():
            return str(local)
    return None


def _load_pretrained(model: CLIP, arch: str, tag: str, weights_file: str | None, cache_dir) -> None:
    if weights_file is None:
        cfg = open_clip.get_pretrained_cfg(arch, tag)
        weights_file = open_clip.pretrained.download_pretrained(cfg, cache_dir=cache_dir)
    _load_checkpoint(model, Path(weights_file))


def _load_checkpoint(model: CLIP, path: Path) -> None:
    if path.is_dir():
        raise ValueError(f"checkpoint {str(path)!r} is a folder; give the weights file in it "
                         "(e.g. the OpenAI ViT-B-16.pt or an open_clip checkpoint)")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {str(path)!r} does not exist")
    state = _read_state_dict(path)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    expected = model.state_dict()
    if "token_embedding.ids" in state:  # a sparse checkpoint: only the learned rows are stored
        ids, rows = state.pop("token_embedding.ids"), state.pop("token_embedding.rows")
        full = untrained_token_rows(*expected["token_embedding.weight"].shape)
        full[ids.long()] = rows.float()
        state["token_embedding.weight"] = full
    # OpenAI's TorchScript archives carry hyper-parameters as tensors, and TorchScript saves
    # buffers that open_clip recomputes (the causal mask): neither is a weight.
    recomputed = {name for name, _ in model.named_buffers()} - set(expected)
    for key in recomputed | {"input_resolution", "context_length", "vocab_size"}:
        state.pop(key, None)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong_shape:
        detail = "; ".join(
            f"{what}: {keys[:4]}{' …' if len(keys) > 4 else ''}"
            for what, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape))
            if keys
        )
        raise ValueError(f"checkpoint {str(path)!r} does not match the architecture ({detail})")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        is_torchscript = zipfile.is_zipfile(path) and any(
            n.endswith("constants.pkl") for n in zipfile.ZipFile(path).namelist()
        )
        if is_torchscript:
            # The original OpenAI archive: weights_only loading cannot read TorchScript.
            return torch.jit.load(str(path), map_location="cpu").state_dict()
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
    except Exception as err:  # corrupted or foreign files all end here
        raise ValueError(f"cannot read checkpoint {str(path)!r} ({type(err).__name__}: {err}); give the OpenAI "
                         "ViT-B-16.pt or an open_clip checkpoint") from None
    try:
        state = load_untrusted(path)
    except ValueError as err:
        raise ValueError(f"cannot read checkpoint: {err}; give the OpenAI ViT-B-16.pt or an open_clip checkpoint") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"checkpoint {str(path)!r} holds no state dict of tensors")
    return state


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
