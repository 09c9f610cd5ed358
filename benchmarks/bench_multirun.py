"""Runs per minute when R runs train together in one group (`runs.train_group`), R = 1, 3, 9, 27, 54, and mixed groups.

Each measurement trains R runs from scratch in a fresh run cache, in a fresh process (so that the
peak memory is the group's own), through everything a user's run goes through: data loading and
augmentation, the lock-step forward/backward, per-run checkpoints and logs, test evaluation. The
group is trained as one (no planning into smaller groups).

    python benchmarks/bench_multirun.py                   # mini-clip on the CPU: `land`, the mini recipe
    python benchmarks/bench_multirun.py --epochs 2        # shorter: the same recipe cut to 2 epochs
    python benchmarks/bench_multirun.py --compile         # torch.compile of the group step, eager vs inductor
    python benchmarks/bench_multirun.py --model ViT-B-16-quickgelu --device cuda   # batch 32, 100 classes

`--runs` groups are R seeds of `--task`; `--mixed` groups are R runs spread over the six
paper-analogue tasks (6 to 20 classes: padded, masked class prompts). On CUDA the model is
ViT-B/16 with random weights (they do not change the cost), on a generated 100-class dataset
(16 shots, 224 px, `--generated`) with the paper's recipe cut to `--epochs` epochs.
"""
from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from bench_forward import _rss_kib  # same folder: the process's memory counters
from PIL import Image

import mmprompts as mp
from mmprompts import runs, train
from mmprompts.data import load_dataset
from mmprompts.data.coop import DatasetSplits, Datum
from mmprompts.data.miniworld import PAPER_ANALOGUES
from mmprompts.profiles import MINI_RECIPE
from mmprompts.train import Recipe


def generated_dataset(root: Path, classes: int, train_per_class: int, test_per_class: int, size: int) -> DatasetSplits:
    """Noise images with a class-coloured square, written once: loading them costs what real JPEGs cost."""
    rng = np.random.default_rng(0)
    splits: dict[str, list[Datum]] = {"train": [], "test": []}
    for label in range(classes):
        colour = rng.integers(0, 256, 3)
        for split, count in (("train", train_per_class), ("test", test_per_class)):
            for i in range(count):
                path = root / f"{label:03d}_{split}_{i:02d}.jpg"
                if not path.exists():
                    pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                    pixels[size // 4: size // 2, size // 4: size // 2] = colour
                    Image.fromarray(pixels).save(path, quality=90)
                splits[split].append(Datum(str(path), label, f"class number {label}"))
    names = [f"class number {label}" for label in range(classes)]
    return DatasetSplits("generated", names, "a photo of a {}.", splits["train"], [], splits["test"], root)


def _setup(args: argparse.Namespace) -> tuple[mp.LoadedCLIP, Recipe, mp.PromptConfig]:
    device = torch.device(args.device)
    if device.type == "cuda":
        clip = mp.load_clip(args.model, device=device)
    else:
        clip = mp.load_clip(args.model, "mini-world" if args.model == "mini-clip" else None, device=device)
    base = Recipe() if device.type == "cuda" else MINI_RECIPE
    epochs = args.epochs or base.epochs
    recipe = dataclasses.replace(base, epochs=epochs, warmup_epochs=min(base.warmup_epochs, epochs - 1))
    method = (mp.PromptConfig.bias(range(clip.depth)) if args.method == "bias"
              else mp.PromptConfig.prompts(args.n_ctx, clip.depth))
    return clip, recipe, method


def measure(args: argparse.Namespace, runs_: int, tasks: list[str]) -> None:
    clip, recipe, method = _setup(args)
    if args.generated:
        datasets = [generated_dataset(Path(args.data), args.generated, args.shots, 2, clip.image_size)]
    else:
        datasets = [load_dataset(task, args.data_root) for task in tasks]
    if clip.model.logit_scale.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    requests = [(datasets[i % len(datasets)], method, 1 + i // len(datasets)) for i in range(runs_)]
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        group = runs.open_runs(clip, requests, shots=args.shots, recipe=recipe, cache=cache)
        outcomes = runs.train_group(group, clip, recipe, workers=args.workers, progress=False)
        seconds = time.perf_counter() - start
    failed = [o for o in outcomes if isinstance(o, Exception)]
    if failed:
        raise failed[0]
    device = clip.model.logit_scale.device
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else _rss_kib("VmHWM:") / 1024
    what = "generated" if args.generated else tasks[0] if len(tasks) == 1 else f"{len(tasks)} tasks"
    print(f"| {runs_:3d} | {what:<9} | {seconds:8.1f} | {60 * runs_ / seconds:8.2f} | {peak:8.0f} | "
          f"{np.mean([o.accuracy for o in outcomes]):8.2f} |", flush=True)


def measure_compile(args: argparse.Namespace) -> None:
    """One group's training step (forward, backward, SGD) eager and compiled by inductor: time per step after
    warm-up, compile time, and how far the learned tensors drift apart over the measured steps."""
    clip, recipe, method = _setup(args)
    data = load_dataset(args.task, args.data_root)
    requests = [(data, method, seed) for seed in range(1, args.compile_runs + 1)]
    step_logits = train._StepLogits(mp.PromptedCLIP(clip, method))
    with tempfile.TemporaryDirectory() as cache:
        group = runs.open_runs(clip, requests, shots=args.shots, recipe=recipe, cache=cache)
    names = [n for n, p in group[0].model.named_parameters() if p.requires_grad]
    texts = train._ClassTexts(group[0].model, [r.fewshot for r in group], clip.model.logit_scale.device)
    images = torch.randn(len(group), recipe.batch_size, 3, clip.image_size, clip.image_size,
                         generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, len(data.classnames), (len(group), recipe.batch_size), generator=torch.Generator().manual_seed(1))

    def trainer(forward):
        values = [torch.stack([r.model.get_parameter(n).detach() for r in group]) for n in names]
        sgd = train._StackedSGD(values, recipe, None, names)

        def step() -> None:
            leaves = sgd.leaves(None)
            logits = torch.func.functional_call(step_logits, {f"model.{n}": t for n, t in zip(names, leaves)},
                                                (images, *texts.inputs(list(range(len(group))))))
            loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none").view(labels.shape).mean(1)
            loss.sum().backward()
            sgd.step(None, leaves, recipe.lr)
        return forward, step, values

    results = {}
    for label in ("eager", "inductor"):
        if label == "inductor":
            step_logits.forward = torch.compile(train._StepLogits.forward.__get__(step_logits))
        _, step, values = trainer(step_logits.forward)
        start = time.perf_counter()
        step()
        first = time.perf_counter() - start
        for _ in range(2):
            step()
        start = time.perf_counter()
        for _ in range(args.compile_steps):
            step()
        results[label] = ((time.perf_counter() - start) / args.compile_steps, first, values)
    eager, compiled = results["eager"], results["inductor"]
    drift = max(float((a - b).abs().max()) for a, b in zip(eager[2], compiled[2]))
    print(f"{args.model}, {args.task}, {len(group)} runs: eager {eager[0] * 1e3:.1f} ms/step | inductor "
          f"{compiled[0] * 1e3:.1f} ms/step (first step, compiling: {compiled[1]:.1f} s) | speed-up "
          f"{eager[0] / compiled[0]:.2f}x | max |delta| of the learned tensors after {args.compile_steps + 3} steps "
          f"{drift:.2e}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="mini-clip", help="mini-clip (CPU) or ViT-B-16-quickgelu (CUDA)")
    parser.add_argument("--task", default="land", help="the mini-world task of the --runs groups")
    parser.add_argument("--runs", type=int, nargs="*", default=[1, 3, 9, 27, 54],
                        help="sizes of the one-task groups, measured in this order (repeat one to measure it again)")
    parser.add_argument("--mixed", type=int, nargs="*", default=[6, 18, 54],
                        help="sizes of the groups spread over the six paper-analogue tasks (CPU)")
    parser.add_argument("--method", choices=["prompts", "bias"], default="prompts",
                        help="n_ctx+n_ctx prompts in every block, or a bias after every block")
    parser.add_argument("--n-ctx", type=int, default=4)
    parser.add_argument("--shots", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=None, help="default: the mini recipe's 6 on the CPU, 1 on CUDA")
    parser.add_argument("--workers", type=int, default=None,
                        help="data-loader processes per run (default: 0 on the CPU, 2 on CUDA)")
    parser.add_argument("--data-root", default=None, help="where the mini-world tasks are (default: the cache's)")
    parser.add_argument("--compile", action="store_true", help="measure torch.compile of the group step instead")
    parser.add_argument("--compile-runs", type=int, default=9, help="runs in the group of --compile")
    parser.add_argument("--compile-steps", type=int, default=10, help="steps timed by --compile")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice); on a "
                        "machine shared with other work, more than one thread can make small steps many times slower")
    parser.add_argument("--generated", type=int, default=None, metavar="CLASSES",
                        help="train on a generated dataset of this many classes (default: 100 on CUDA; the mini world "
                             "on the CPU)")
    parser.add_argument("--data", default=None, help="folder for the generated images (default: a temporary one)")
    parser.add_argument("--group", default=None, help=argparse.SUPPRESS)  # one measurement (a child process)
    args = parser.parse_args()
    if args.device.startswith("cuda"):
        args.epochs = args.epochs or 1
        args.workers = 2 if args.workers is None else args.workers
        args.mixed = []
        args.generated = args.generated or 100
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.compile:
        measure_compile(args)
        return
    if args.group is not None:
        size, tasks = args.group.split(":")
        measure(args, int(size), tasks.split(","))
        return
    epochs = args.epochs or MINI_RECIPE.epochs
    what = f"{args.n_ctx}+{args.n_ctx} prompts in every block" if args.method == "prompts" else "bias after every block"
    print(f"{args.model} on {args.device}: {what}, {args.shots} shots, {epochs} epochs, "
          f"{torch.get_num_threads()} torch threads; peak memory: process RSS (CPU) or CUDA allocated")
    print("|   R | tasks     | time (s) | runs/min | peak MiB | mean acc |")
    print("|----:|-----------|---------:|---------:|---------:|---------:|", flush=True)
    with tempfile.TemporaryDirectory() as data:
        for size, tasks in [(r, [args.task]) for r in args.runs] + [(r, list(PAPER_ANALOGUES)) for r in args.mixed]:
            command = [sys.executable, __file__, *sys.argv[1:], "--data", args.data or data,
                       "--group", f"{size}:{','.join(tasks)}"]
            if subprocess.run(command).returncode:
                print(f"| {size:3d} | failed (e.g. out of memory): see above |", flush=True)


if __name__ == "__main__":
    main()
