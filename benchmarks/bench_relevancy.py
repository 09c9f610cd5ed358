"""Batched relevancy (one backward for B pairs) vs Chefer's per-pair loop (B backwards).

    python benchmarks/bench_relevancy.py [--model lib/mmprompts/assets/toy-vit.json] [--batch 32]

Checks the maps are identical and prints the speed-up. Default model: the small ViT shipped
for the offline path; pass --model ViT-B-16-quickgelu for the paper's architecture.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import mmprompts as mp
from mmprompts.analysis import relevancy_maps

TOY = Path(__file__).resolve().parents[1] / "lib" / "mmprompts" / "assets" / "toy-vit.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(TOY))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    clip = mp.load_clip(args.model, device=args.device)
    torch.manual_seed(0)
    depth = len(clip.model.transformer.resblocks)
    model = mp.PromptedCLIP(clip, mp.PromptConfig.prompts(2, depth))
    images = torch.randn(args.batch, 3, clip.image_size, clip.image_size, device=args.device)
    texts = model.prompt_texts([f"class {i % 10}" for i in range(args.batch)])

    def timed(fn, repeats: int = 3):
        fn()  # warm-up
        times, result = [], None
        for _ in range(repeats):
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
        return sorted(times)[repeats // 2], result

    t_batched, batched = timed(lambda: relevancy_maps(model, images, texts))
    t_loop, singles = timed(lambda: [relevancy_maps(model, images[i : i + 1], texts[i : i + 1]) for i in range(args.batch)])

    diff_image = max((batched.image[i] - s.image[0]).abs().max().item() for i, s in enumerate(singles))
    diff_text = max((batched.text[i, : s.text.shape[1]] - s.text[0]).abs().max().item() for i, s in enumerate(singles))
    print(f"{clip.name} on {args.device}, B={args.batch}: batched {t_batched:.3f} s | per-pair loop {t_loop:.3f} s | "
          f"speed-up {t_loop / t_batched:.1f}x | max |diff| image {diff_image:.2e}, text {diff_text:.2e}")


if __name__ == "__main__":
    main()
