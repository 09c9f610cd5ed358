"""Runs per minute when R runs of one setting train together (`multirun.train_group`), R = 1, 3, 9, 27.

Each R trains R seeds of one setting from scratch in a fresh run cache, in a fresh process (so
that the peak memory is the group's own), through everything a user's run goes through: data
loading and augmentation, the lock-step forward/backward, per-run checkpoints, test evaluation.

    python benchmarks/bench_multirun.py                        # mini-clip on the CPU: `shapes`, the mini recipe
    python benchmarks/bench_multirun.py --model ViT-B-16-quickgelu --device cuda   # batch 32, 100 classes

On CUDA the model is ViT-B/16 with random weights (they do not change the cost), on a generated
100-class dataset (16 shots, 224 px) with the paper's recipe cut to `--epochs` epochs.
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
from bench_forward import _rss_kib  # same folder: the process's memory counters
from PIL import Image

import mmprompts as mp
from mmprompts.data import load_dataset
from mmprompts.data.coop import DatasetSplits, Datum
from mmprompts.multirun import train_group
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


def measure(args: argparse.Namespace, runs: int) -> None:
    device = torch.device(args.device)
    if device.type == "cuda":
        clip = mp.load_clip(args.model, device=device)
        data = generated_dataset(Path(args.data), 100, args.shots, 2, clip.image_size)
    else:
        clip = mp.load_clip(args.model, "mini-world", device=device)
        data = load_dataset("shapes")
    base = Recipe() if device.type == "cuda" else MINI_RECIPE
    epochs = args.epochs or base.epochs
    recipe = dataclasses.replace(base, epochs=epochs, warmup_epochs=min(base.warmup_epochs, epochs - 1))
    method = (mp.PromptConfig.bias(range(clip.depth)) if args.method == "bias"
              else mp.PromptConfig.prompts(args.n_ctx, clip.depth))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        outcomes = train_group(clip, data, method, seeds=range(1, runs + 1), shots=args.shots, recipe=recipe,
                               cache=cache, workers=args.workers, progress=False)
        seconds = time.perf_counter() - start
    failed = [o for o in outcomes if isinstance(o, Exception)]
    if failed:
        raise failed[0]
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else _rss_kib("VmHWM:") / 1024
    print(f"| {runs:3d} | {seconds:8.1f} | {60 * runs / seconds:8.2f} | {peak:8.0f} | "
          f"{np.mean([o.accuracy for o in outcomes]):8.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="mini-clip", help="mini-clip (CPU) or ViT-B-16-quickgelu (CUDA)")
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 3, 9, 27],
                        help="group sizes, measured in this order (repeat one to measure it again)")
    parser.add_argument("--method", choices=["prompts", "bias"], default="prompts",
                        help="n_ctx+n_ctx prompts in every block, or a bias after every block")
    parser.add_argument("--n-ctx", type=int, default=4)
    parser.add_argument("--shots", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=None, help="default: the mini recipe's 6 on the CPU, 1 on CUDA")
    parser.add_argument("--workers", type=int, default=None,
                        help="data-loader processes per run (default: 0 on the CPU, 2 on CUDA)")
    parser.add_argument("--data", default=None, help="CUDA: folder for the generated images (default: a temporary one)")
    parser.add_argument("--group", type=int, default=None, help=argparse.SUPPRESS)  # one measurement (a child process)
    args = parser.parse_args()
    if args.device.startswith("cuda"):
        args.epochs = args.epochs or 1
        args.workers = 2 if args.workers is None else args.workers
    if args.group is not None:
        measure(args, args.group)
        return
    epochs = args.epochs or MINI_RECIPE.epochs
    what = f"{args.n_ctx}+{args.n_ctx} prompts in every block" if args.method == "prompts" else "bias after every block"
    print(f"{args.model} on {args.device}: {what}, {args.shots} shots, {epochs} epochs, "
          f"{torch.get_num_threads()} torch threads; peak memory: process RSS (CPU) or CUDA allocated")
    print("|   R | time (s) | runs/min | peak MiB | mean acc |")
    print("|----:|---------:|---------:|---------:|---------:|", flush=True)
    with tempfile.TemporaryDirectory() as data:
        for runs in args.runs:
            command = [sys.executable, __file__, *sys.argv[1:], "--data", args.data or data, "--group", str(runs)]
            if subprocess.run(command).returncode:
                print(f"| {runs:3d} | failed (e.g. out of memory): see above |", flush=True)

if __name__ == "__main__":
    main()
