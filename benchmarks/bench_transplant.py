"""The transplant factorial of page 2 (`analysis.arm_correct`): time and peak memory per test image.

    python benchmarks/bench_transplant.py [--model ViT-B-16-quickgelu] [--batch 32] [--classes 100]

Records zero-shot CLIP's and the prompted model's eq. 12 parts (r, s, t) once per image batch and
replays every arm in both towers; prints images per second against the plain forward of the same
model and the peak memory (CUDA) of the recorded parts. Default: the small ViT shipped for the
offline path; the paper's architecture is --model ViT-B-16-quickgelu (random weights; on a GPU).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import mmprompts as mp
from mmprompts.analysis import arm_correct, prompt_term_means
from mmprompts.train import autocast

TOY = Path(__file__).resolve().parents[1] / "lib" / "mmprompts" / "assets" / "toy-vit.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(TOY))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=2)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    clip = mp.load_clip(args.model, device=args.device)
    torch.manual_seed(0)
    model = mp.PromptedCLIP(clip, mp.PromptConfig.prompts(4, clip.depth))
    classes = [f"class {i}" for i in range(args.classes)]
    batches = [(torch.randn(args.batch, 3, clip.image_size, clip.image_size, device=args.device),
                torch.randint(args.classes, (args.batch,), device=args.device)) for _ in range(args.batches)]
    constant = prompt_term_means(model, [images for images, _ in batches[:1]], classes)
    cuda = args.device.startswith("cuda")

    def timed(fn):
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    def plain():
        with torch.no_grad(), autocast(model.logit_scale.device):
            text = model.encode_text(model.prompt_texts(classes))
            for images, _ in batches:
                model.logits(model.encode_image(images), text)

    timed(plain)  # warm-up
    t_plain = timed(plain)
    t_arms = timed(lambda: arm_correct(model, batches, classes, constant))
    images = args.batch * args.batches
    peak = f", peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB" if cuda else ""
    print(f"{clip.name} on {args.device}, {images} images x {args.classes} classes: plain forward "
          f"{images / t_plain:.1f} images/s | all 6 arms x 3 branches {images / t_arms:.1f} images/s "
          f"({t_arms / t_plain:.1f}x the plain forward){peak}")


if __name__ == "__main__":
    main()
