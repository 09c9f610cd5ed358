"""Pretrain the mini CLIP contrastively on the mini world; this made the shipped `mini-clip` weights.

    python -m mmprompts.pretrain                    # train into $MMPROMPTS_CACHE/pretrain/mini-clip-mini-world.pt
    python -m mmprompts.pretrain --replace-shipped  # regenerate lib/mmprompts/assets/mini-clip-mini-world.pt
    python -m mmprompts.pretrain --check            # train into a temporary folder, compare with the shipped file
    python -m mmprompts.pretrain --rescore --replace-shipped  # after a change of the tasks: re-record zero-shot

The shipped weights are only written with `--replace-shipped`: every mini result depends on them.

Every batch is a pure function of (seed, step) and the model starts from a seeded
initialisation, so on the same machine type with the same torch build a rerun gives the
same file byte for byte (`--check` reports whether the sha256 matches). On another CPU, BLAS
kernels round differently, the bytes differ, and `--check` compares the zero-shot
accuracies instead (expect them within about a point).

Two stages, each with AdamW (lr 1e-3, linear warm-up, weight decay 0.1 on matrices only):

1. **Vision warm-up** (`vision_warmup` steps): the image tower alone learns to name the first
   object's shape and colour and the background's texture, or a landscape's land, through
   linear heads that are then thrown away. Contrastive training from scratch teaches shape last:
   both towers start from features that barely tell shapes apart, and each needs the other's
   differences to learn its own. Measured with the 4-block, 128-wide model of world v7: 2200
   contrastive steps alone left the text features of "circle", "square" and "hexagon" with
   cosines of 0.98-1.00 (58.6% zero-shot on its `shapes` task, `objects`' forerunner, 45.0% on `textures`); a first 500
   steps captioned only "a photo of a {shape}." gave 62.4% and 40.0%; a logit scale of 50,
   in-group negatives weighted x4 and one view phrase did not help in 700-step runs (issue #4's
   notes). Starting from an image tower trained on labels is how LiT builds its CLIP-style
   models: 600 such steps and then 1600 contrastive ones gave 90.2% and 82.0%.
2. **Contrastive** (`steps` steps, cosine decay): the usual CLIP recipe shrunk to a 2-core CPU
   budget, batch 128 in groups of 4 hard negatives.

The 12-block, 64-wide model of world v8 (the shipped one) took 1492 s on 2 cores for the default
600 + 1600 steps, about 25 min (`pretraining_seconds` in its manifest); the same recipe on a GPU
(`--device cuda --workers 14`) gave zero-shot accuracies within a few points of the CPU run's (see the manifest).

The manifest records the measured time of both. The run is checkpointed every
`CHECKPOINT_EVERY` steps and resumes where it stopped.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .data.miniworld import (COLOURS, IMAGE_SIZE, LANDS, MINI_TASKS, SHAPES, TEXTURES, WORLD_VERSION, Scene, caption,
                             render, sample_scene, sample_scene_group, world_vocabulary)
from .models import SHIPPED_MODELS, load_clip, manifest_path, untrained_token_rows
from .progress import progress_bar
from .prompted import PromptedCLIP
from .storage import atomic_torch_save, atomic_write_text, cache_root

__all__ = ["ATTRIBUTES", "PretrainRecipe", "pretrain", "rescore", "save_sparse_checkpoint", "scene_attributes"]

SHIPPED_FILE = SHIPPED_MODELS["mini-clip"]["mini-world"]
CHECKPOINT_EVERY = 100  # steps between resume files


@dataclass(frozen=True)
class PretrainRecipe:
    vision_warmup: int = 600
    steps: int = 1600  # contrastive, after the vision warm-up
    batch_size: int = 128
    group_size: int = 4
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.vision_warmup < 0 or self.steps < 1:
            raise ValueError(f"vision_warmup={self.vision_warmup}, steps={self.steps}: need vision_warmup >= 0 "
                             "and at least one contrastive step")
        if self.batch_size % self.group_size:
            raise ValueError(f"batch_size={self.batch_size} is not a multiple of group_size={self.group_size}: "
                             "a batch is made of whole groups of scenes")


# What the vision warm-up names: a scene's first thing's shape and colour and its texture, or a landscape's land.
ATTRIBUTES = {"shape": SHAPES, "colour": tuple(COLOURS), "texture": TEXTURES, "land": LANDS}
ABSENT = -100  # the label of an attribute a scene does not have (cross_entropy's ignore_index)


def scene_attributes(scene: Scene) -> tuple[int, int, int, int]:
    """The vision warm-up's labels of `scene`, ABSENT for what it lacks (a landscape has no thing or texture)."""
    if scene.land is not None:
        return ABSENT, ABSENT, ABSENT, LANDS.index(scene.land)
    named = (scene.things[0].shape, scene.things[0].colour, scene.texture)
    return (*(values.index(value) for values, value in zip(ATTRIBUTES.values(), named)), ABSENT)


class _PretrainStream(torch.utils.data.IterableDataset):
    """Batch `step` of pretraining, drawn from Generator([seed, step]): during the vision warm-up
    ("attributes", images, labels) of independent scenes, then ("captions", images, tokens, texts)
    in groups of `group_size` scenes that differ in one attribute (see `sample_scene_group`)."""

    def __init__(self, recipe: PretrainRecipe, tokenizer, mean, std, first_step: int):
        self.recipe, self.tokenizer, self.first_step = recipe, tokenizer, first_step
        self.mean = torch.tensor(mean).view(3, 1, 1)
        self.std = torch.tensor(std).view(3, 1, 1)

    def _pixels(self, images: list[np.ndarray]) -> torch.Tensor:
        pixels = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255
        return (pixels - self.mean) / self.std

    def __iter__(self):
        recipe = self.recipe
        worker = torch.utils.data.get_worker_info()  # with several loader workers, worker k draws steps k, k + n, ...
        offset, stride = (worker.id, worker.num_workers) if worker is not None else (0, 1)
        for step in range(self.first_step + offset, recipe.vision_warmup + recipe.steps, stride):
            rng = np.random.default_rng([recipe.seed, step])
            images, texts, labels = [], [], []
            if step < recipe.vision_warmup:
                for _ in range(recipe.batch_size):
                    scene = sample_scene(rng)
                    images.append(render(scene, rng))
                    labels.append(scene_attributes(scene))
                yield "attributes", self._pixels(images), torch.tensor(labels)
                continue
            while len(images) < recipe.batch_size:
                scenes, varied = sample_scene_group(rng, recipe.group_size)
                for scene in scenes:
                    images.append(render(scene, rng))
                    texts.append(caption(scene, rng, must=varied))
            yield "captions", self._pixels(images), self.tokenizer(texts), texts


def _lr(step: int, recipe: PretrainRecipe) -> float:
    """Each stage warms up linearly; the vision warm-up then stays constant (it only starts the
    image tower off), the contrastive stage decays along a cosine."""
    if step < recipe.vision_warmup:
        return recipe.lr * min(1.0, (step + 1) / recipe.warmup)
    step -= recipe.vision_warmup
    if step < recipe.warmup:
        return recipe.lr * (step + 1) / recipe.warmup
    progress = (step - recipe.warmup) / max(1, recipe.steps - recipe.warmup)
    return recipe.lr * 0.5 * (1 + math.cos(math.pi * progress))


def _contrastive_loss(image_features, text_features, logit_scale, texts) -> torch.Tensor:
    """Symmetric InfoNCE; identical captions in a batch are all positives of each other."""
    logits = logit_scale * F.normalize(image_features, dim=-1) @ F.normalize(text_features, dim=-1).T
    caption_id = {text: i for i, text in enumerate(dict.fromkeys(texts))}
    index = torch.tensor([caption_id[text] for text in texts], device=logits.device)
    same = (index[:, None] == index[None, :]).float()
    targets = same / same.sum(dim=1, keepdim=True)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def _vocabulary_ids(tokenizer) -> torch.Tensor:
    ids = tokenizer(world_vocabulary()).flatten()
    return torch.unique(ids[ids > 0])


def _compact_token_embedding(model: torch.nn.Module, vocab: torch.Tensor) -> tuple[torch.nn.Embedding, torch.Tensor]:
    """Swap the token embedding for one with a padding row 0 and then the `vocab` rows.

    Exactly the same training: AdamW leaves a row whose gradient is always zero where it is
    (no weight decay on embeddings), but a dense 49,408-row embedding costs a tenth of each
    step in its backward pass and optimizer update. Compact ids keep the tokenizer's order,
    padding 0 and end-of-text the largest, which is how the text tower finds the end of a
    caption. Returns the full embedding, to put the learned rows back into, and the table
    that maps token ids to compact ids.
    """
    full = model.token_embedding
    compact_id = torch.zeros(full.num_embeddings, dtype=torch.long)
    compact_id[vocab] = torch.arange(1, len(vocab) + 1)
    rows = torch.cat([torch.zeros(1, full.embedding_dim), full.weight.detach()[vocab]])
    model.token_embedding = torch.nn.Embedding.from_pretrained(rows.clone(), freeze=False)
    return full, compact_id


def _restore_token_embedding(model: torch.nn.Module, full: torch.nn.Embedding, vocab: torch.Tensor) -> None:
    """Undo `_compact_token_embedding`: the learned `vocab` rows go back into `full`, which the model gets back."""
    with torch.no_grad():
        full.weight[vocab] = model.token_embedding.weight[1:]
    model.token_embedding = full


def _adamw(named_parameters: list[tuple[str, torch.nn.Parameter]], recipe: PretrainRecipe) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (no decay on embeddings, gains and biases)."""
    decays = [p.ndim >= 2 and "embedding" not in n for n, p in named_parameters]
    return torch.optim.AdamW(
        [{"params": [p for (_, p), d in zip(named_parameters, decays) if d], "weight_decay": recipe.weight_decay},
         {"params": [p for (_, p), d in zip(named_parameters, decays) if not d], "weight_decay": 0.0}],
        lr=recipe.lr, betas=(0.9, 0.98), eps=1e-6,
    )


def _stage(step: int, recipe: PretrainRecipe) -> str:
    return "vision" if step < recipe.vision_warmup else "contrastive"


def _stage_optimizer(stage: str, model: torch.nn.Module, heads: torch.nn.Module,
                     recipe: PretrainRecipe) -> torch.optim.AdamW:
    """Each stage starts its own AdamW: the vision warm-up's moments belong to its heads' loss."""
    if stage == "vision":
        return _adamw([*model.visual.named_parameters(), *heads.named_parameters(prefix="heads")], recipe)
    return _adamw(list(model.named_parameters()), recipe)


def default_output() -> Path:
    """Where pretraining writes when not told: the cache, never the installed package."""
    return cache_root() / "pretrain" / SHIPPED_FILE.name


def pretrain(out: str | os.PathLike | None = None, recipe: PretrainRecipe = PretrainRecipe(),
             work_dir: str | os.PathLike | None = None, progress: bool = True, device: str = "cpu",
             workers: int = 1) -> dict:
    """Train the mini CLIP from scratch and write its sparse fp16 checkpoint + manifest to `out`
    (default: `default_output()`; the shipped file only when passed explicitly).

    The batches do not depend on `workers` (scene-drawing processes; one keeps up with 2 CPU cores);
    the shipped weights were trained on the CPU, where a rerun is reproducible byte for byte."""
    if not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers={workers!r}: give 0 (draw the scenes in this process) or more processes, e.g. --workers 1")
    out = Path(out) if out is not None else default_output()
    torch.manual_seed(recipe.seed)
    clip = load_clip("mini-clip", init_seed=recipe.seed)
    model = clip.model
    with torch.no_grad():
        model.token_embedding.weight.copy_(untrained_token_rows(*model.token_embedding.weight.shape))
    forward = PromptedCLIP(clip)  # the library's forward, with nothing learned on top
    vocab = _vocabulary_ids(clip.tokenizer)
    full_embedding, compact_id = _compact_token_embedding(model, vocab)
    model.requires_grad_(True)
    heads = torch.nn.ModuleList(torch.nn.Linear(model.visual.output_dim, len(v)) for v in ATTRIBUTES.values())
    model.to(device)
    heads.to(device)

    resume = Path(work_dir or cache_root() / "pretrain") / f"mini-clip-{_recipe_key(recipe)}.resume.pt"
    first_step, seconds, state = 0, 0.0, None
    if resume.is_file():
        state = torch.load(resume, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        heads.load_state_dict(state["heads"])
        first_step, seconds = int(state["step"]), float(state["seconds"])
    stage = _stage(first_step, recipe)
    optimizer = _stage_optimizer(stage, model, heads, recipe)
    if state is not None and state["stage"] == stage:
        optimizer.load_state_dict(state["optimizer"])

    stream = _PretrainStream(recipe, clip.tokenizer, clip.mean, clip.std, first_step)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers,
                                         prefetch_factor=4 if workers else None)  # 0: drawn in this process
    total = recipe.vision_warmup + recipe.steps
    bar = progress_bar(loader, progress, total=total, initial=first_step, desc="pretrain mini-clip")
    started = time.perf_counter()
    for step, (kind, images, *targets) in enumerate(bar, start=first_step):
        if _stage(step, recipe) != stage:
            stage = _stage(step, recipe)
            optimizer = _stage_optimizer(stage, model, heads, recipe)
        for group in optimizer.param_groups:
            group["lr"] = _lr(step, recipe)
        if kind == "attributes":
            features, (labels,) = forward.encode_image(images.to(device)), targets
            loss = sum(F.cross_entropy(head(features), labels[:, i].to(device), ignore_index=ABSENT)
                       for i, head in enumerate(heads) if (labels[:, i] != ABSENT).any())
        else:
            tokens, texts = targets
            if not bool(torch.isin(tokens[tokens > 0], vocab).all()):
                raise RuntimeError("a caption uses a word outside world_vocabulary(); add it there")
            loss = _contrastive_loss(forward.encode_image(images.to(device)),
                                     forward.encode_tokens(compact_id[tokens].to(device)), model.logit_scale.exp(), texts)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        bar.set_postfix(stage=stage, loss=f"{loss.item():.3f}", scale=f"{model.logit_scale.exp().item():.1f}")
        if (step + 1) % CHECKPOINT_EVERY == 0 and step + 1 < total:
            atomic_torch_save(resume, {"model": model.state_dict(), "heads": heads.state_dict(),
                                       "optimizer": optimizer.state_dict(), "stage": stage, "step": step + 1,
                                       "seconds": seconds + time.perf_counter() - started})
    seconds += time.perf_counter() - started

    model.requires_grad_(False).to("cpu")
    _restore_token_embedding(model, full_embedding, vocab)
    manifest = {"recipe": asdict(recipe), "world_version": WORLD_VERSION, "pretraining_seconds": round(seconds, 1),
                "torch": torch.__version__, "device": str(device), "threads": torch.get_num_threads(),
                "image_size": IMAGE_SIZE}
    manifest = save_sparse_checkpoint(model, vocab, Path(out), manifest)
    resume.unlink(missing_ok=True)
    return manifest


def save_sparse_checkpoint(model: torch.nn.Module, token_ids: torch.Tensor, out: Path, manifest: dict) -> dict:
    """fp16 weights with only the `token_ids` rows of the token embedding, plus `<out>.json`.

    The manifest gets the file's sha256 (the loader refuses a file that does not match) and
    the zero-shot test accuracy of every mini task, which the tests recompute exactly.
    """
    from .models import _sha256

    state = {k: v.detach().to(torch.float16) for k, v in model.state_dict().items() if k != "token_embedding.weight"}
    state["token_embedding.ids"] = token_ids.clone()
    state["token_embedding.rows"] = model.token_embedding.weight.detach()[token_ids].to(torch.float16)
    atomic_torch_save(out, {"state_dict": state})
    manifest = {**manifest, "sha256": _sha256(out), "bytes": out.stat().st_size}
    manifest["zero_shot_test_accuracy"] = _zero_shot_accuracies(out)
    _write_manifest(out, manifest)
    return manifest


def rescore(weights: str | os.PathLike) -> dict:
    """Recompute the manifest's zero-shot accuracies for the current mini tasks; the weights stay.

    For a change of the downstream tasks only (a `WORLD_VERSION` bump that leaves the pretraining
    scenes alone): the tests compare the shipped weights with these numbers exactly.
    """
    weights = Path(weights)
    manifest_file = manifest_path(weights)
    if not (weights.is_file() and manifest_file.is_file()):
        raise FileNotFoundError(f"rescore needs weights written by pretrain and their manifest: {str(weights)!r} or "
                                f"{str(manifest_file)!r} is missing")
    manifest = json.loads(manifest_file.read_text())
    manifest["world_version"] = WORLD_VERSION
    manifest["zero_shot_test_accuracy"] = _zero_shot_accuracies(weights)
    _write_manifest(weights, manifest)
    return manifest


def _write_manifest(weights: Path, manifest: dict) -> None:
    atomic_write_text(manifest_path(weights), json.dumps(manifest, indent=2) + "\n")


def _zero_shot_accuracies(weights: Path) -> dict[str, float]:
    from .data import load_dataset
    from .train import evaluate

    clip = load_clip("mini-clip", checkpoint=weights)
    model = PromptedCLIP(clip)
    return {task: round(evaluate(model, clip, load_dataset(task), progress=False), 2) for task in MINI_TASKS}


def _recipe_key(recipe: PretrainRecipe) -> str:
    """Names the resume file: a run of another recipe or world never resumes from it.

    "c": the state holds the compact token embedding, which a resume file written before
    `_compact_token_embedding` existed does not fit.
    """
    return "-".join(["c", f"w{WORLD_VERSION}", *(f"{v}" for v in asdict(recipe).values())])


def _output(args: argparse.Namespace) -> Path:
    """--out, checked: the shipped weights only with --replace-shipped, and not both."""
    if args.replace_shipped:
        if args.out is not None:
            raise ValueError("give either --out PATH or --replace-shipped, not both")
        return SHIPPED_FILE
    out = Path(args.out).expanduser() if args.out is not None else default_output()
    if out.resolve() == SHIPPED_FILE.resolve():
        raise ValueError(f"--out {args.out!r} is the shipped weights file, on which every mini result depends; "
                         "pass --replace-shipped (without --out) to regenerate it")
    if out.is_dir():
        raise ValueError(f"--out {args.out!r} is a folder; give a file name, e.g. {str(out / SHIPPED_FILE.name)!r}")
    return out


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmprompts.pretrain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None,
                        help=f"weights file to write (default: {default_output()}); its manifest goes next to it")
    parser.add_argument("--replace-shipped", action="store_true",
                        help=f"write the shipped weights {SHIPPED_FILE} (every mini result changes with them)")
    parser.add_argument("--vision-warmup", type=int, default=PretrainRecipe.vision_warmup,
                        help="supervised steps on the image tower before the contrastive ones")
    parser.add_argument("--steps", type=int, default=PretrainRecipe.steps, help="contrastive steps")
    parser.add_argument("--seed", type=int, default=PretrainRecipe.seed)
    parser.add_argument("--device", default="cpu", help="e.g. cuda (the shipped weights were trained on the CPU)")
    parser.add_argument("--workers", type=int, default=1, help="processes that draw the scenes (0: this one)")
    parser.add_argument("--check", action="store_true", help="train into a temporary file and compare with the shipped one")
    parser.add_argument("--rescore", action="store_true",
                        help="no training: recompute the zero-shot accuracies in the manifest of the output for the "
                             "current tasks")
    args = parser.parse_args(argv)
    out = _output(args)
    if args.rescore:
        print(json.dumps(rescore(out)["zero_shot_test_accuracy"], indent=2))
        return 0
    recipe = PretrainRecipe(vision_warmup=args.vision_warmup, steps=args.steps, seed=args.seed)
    if not args.check:
        manifest = pretrain(out, recipe, device=args.device, workers=args.workers)
        print(json.dumps(manifest, indent=2))
        return 0
    shipped = json.loads(manifest_path(SHIPPED_FILE).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        fresh = pretrain(Path(tmp) / SHIPPED_FILE.name, recipe, work_dir=tmp)
    same = fresh["sha256"] == shipped["sha256"]
    print(f"sha256 {'identical' if same else 'differs'}: shipped {shipped['sha256'][:16]}, fresh {fresh['sha256'][:16]}")
    for task, accuracy in shipped["zero_shot_test_accuracy"].items():
        print(f"{task:10s} zero-shot shipped {accuracy:6.2f}  fresh {fresh['zero_shot_test_accuracy'][task]:6.2f}")
    return 0 if same else 1


def main(argv: list[str] | None = None) -> int:
    from .cli import guarded

    return guarded(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
