"""The paper's model on an accelerator: CPU fp32 against device autocast, and the time `book --profile paper` would take.

(a) max |delta| between the image and text features of ViT-B/16 (random weights, generated
    images and class prompts) computed on the CPU in fp32 and on `--device` under the library's
    autocast (bf16 on CUDA), relative to the features' largest magnitude;
(b) the time of one grouped training step (`--group` runs, 4+4 prompts in every block, batch 32,
    autocast) at the class count of each of the paper's 11 datasets, and from it the training
    time of the paper profile's runs (Tables 1-3 on all 11 datasets; the analysis pages' runs are among them):
    per dataset and method, 10 epochs of floor(16 C / 32) steps, in groups of `--group` seeds.
    Every method is costed at the 4+4 step (20+20 and 50+50 prompts cost more, bias tuning less).

    python benchmarks/bench_device.py --device cuda                      # ViT-B/16
    python benchmarks/bench_device.py --device cpu --model lib/mmprompts/assets/toy-vit.json --scale 0.01 --batch 2
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

import mmprompts as mp
from mmprompts import train
from mmprompts.paper import PAPER_DATASETS
from mmprompts.presets import preset_specs
from mmprompts.profiles import settings
from mmprompts.train import Recipe

CLASSES = {"imagenet": 1000, "caltech101": 100, "oxford_pets": 37, "stanford_cars": 196, "oxford_flowers": 102,
           "food101": 101, "fgvc_aircraft": 100, "sun397": 397, "dtd": 47, "eurosat": 10, "ucf101": 101}


def feature_delta(name: str, device: torch.device, batch: int) -> tuple[float, float]:
    """Relative max |delta| of image and text features, CPU fp32 vs `device` under autocast (same weights)."""
    cpu = mp.load_clip(name, init_seed=0)
    there = mp.load_clip(name, init_seed=0, device=device)
    images = torch.randn(batch, 3, cpu.image_size, cpu.image_size, generator=torch.Generator().manual_seed(0))
    texts = [f"a photo of a class number {i}." for i in range(batch)]
    deltas = []
    for encode in (lambda m, d: m.encode_image(images.to(d)), lambda m, d: m.encode_text(texts)):
        with torch.no_grad():
            reference = encode(mp.PromptedCLIP(cpu), torch.device("cpu")).float()
            with train.autocast(device):
                other = encode(mp.PromptedCLIP(there), device).float().cpu()
        deltas.append(float((other - reference).abs().max() / reference.abs().max()))
    return deltas[0], deltas[1]


def step_seconds(clip: mp.LoadedCLIP, classes: int, runs: int, batch: int, repeats: int) -> float:
    """Seconds of one training step of `runs` stacked runs with `classes` class prompts each."""
    device = clip.model.logit_scale.device
    model = mp.PromptedCLIP(clip, mp.PromptConfig.prompts(4, clip.depth))
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    values = [torch.stack([model.get_parameter(n).detach()] * runs) for n in names]
    sgd = train._StackedSGD(values, Recipe(), None, names)
    tokens = model.tokenize(model.prompt_texts([f"class number {i}" for i in range(classes)])).to(device)
    images = torch.randn(runs, batch, 3, clip.image_size, clip.image_size, device=device)
    labels = torch.randint(0, classes, (runs, batch), device=device)
    step_logits = train._StepLogits(model)

    def step() -> None:
        leaves = sgd.leaves(None)
        with train.autocast(device):
            logits = torch.func.functional_call(step_logits, {f"model.{n}": t for n, t in zip(names, leaves)},
                                                (images, tokens.repeat(runs, 1), [classes] * runs, None, None))
            loss = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), reduction="none")
        loss.view(runs, batch).mean(1).sum().backward()
        sgd.step(None, leaves, 1e-3)

    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--model", default="ViT-B-16-quickgelu")
    parser.add_argument("--group", type=int, default=3, help="runs trained together (the seeds of a setting)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="class counts times this (a tiny check on a CPU)")
    args = parser.parse_args()
    device = torch.device(args.device)
    image, text = feature_delta(args.model, device, 4)
    print(f"(a) {args.model}, CPU fp32 vs {device} autocast: max |delta| / max |feature| image {image:.2e}, text {text:.2e}")

    clip = mp.load_clip(args.model, init_seed=0, device=device)
    paper = settings("paper", datasets=list(PAPER_DATASETS), device=str(device.type))
    specs = [s for s in preset_specs("all", paper, clip.depth) if s.method is not None]
    settings_per_dataset = {d: len({s.method for s in specs if s.dataset == d}) for d in PAPER_DATASETS}
    groups_per_setting = -(-len(paper.seeds) // args.group)
    total = 0.0
    print(f"(b) one step of {args.group} stacked runs, batch {args.batch}, 4+4 prompts; paper profile "
          f"({paper.recipe.epochs} epochs, 16 shots):")
    for dataset in PAPER_DATASETS:
        classes = max(1, round(CLASSES[dataset] * args.scale))
        seconds = step_seconds(clip, classes, args.group, args.batch, args.repeats)
        steps = paper.recipe.epochs * max(1, 16 * classes // args.batch)
        hours = settings_per_dataset[dataset] * groups_per_setting * steps * seconds / 3600
        total += hours
        print(f"    {dataset:<15} {classes:5d} classes: {seconds:7.3f} s/step, {settings_per_dataset[dataset]} settings "
              f"x {groups_per_setting} groups x {steps} steps: {hours:7.2f} h")
    print(f"    estimated training time of `book --profile paper`: {total:.1f} h ({len(specs)} runs; evaluation and "
          f"the analyses not included)")


if __name__ == "__main__":
    main()
