"""Training-step cost with many classes, with and without activation checkpointing in the text tower.

With learned text prompts every class prompt goes through the text tower at every step
(ImageNet: 1000 of them). This measures one SGD step (image batch + all class prompts,
forward and backward, bf16 autocast on CUDA) with `recompute_text` off and on: images/s and
the peak memory the step adds.

    python benchmarks/bench_text_checkpointing.py                     # mini-clip on the CPU
    python benchmarks/bench_text_checkpointing.py --model ViT-B-16-quickgelu --device cuda
"""
from __future__ import annotations

import argparse
import subprocess
import sys

import torch
import torch.nn.functional as F
from bench_forward import timed  # same folder: time and peak-memory measurement

import mmprompts as mp
from mmprompts.train import autocast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--model", default=None, help="default: ViT-B-16-quickgelu on CUDA, mini-clip on the CPU")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--n-ctx", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--checkpointing", choices=["off", "on"], default=None,
                        help="measure one setting; default: both, each in a fresh process (CPU memory freed by one "
                             "run stays in the process and would hide the other's peak)")
    args = parser.parse_args()
    if args.checkpointing is None:
        for setting in ("off", "on"):
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--checkpointing", setting], check=True)
        return
    device = torch.device(args.device)
    name = args.model or ("ViT-B-16-quickgelu" if device.type == "cuda" else "mini-clip")
    # weights do not change the cost: random init for hub models, the shipped ones for mini-clip
    clip = mp.load_clip(name, "mini-world" if name == "mini-clip" else None, device=device)
    model = mp.PromptedCLIP(clip, mp.PromptConfig.prompts(args.n_ctx, clip.depth)).to(device)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    names = [f"class number {i} of a large dataset" for i in range(args.classes)]
    tokens = model.tokenize(model.prompt_texts(names)).to(device)
    images = torch.randn(args.batch, 3, clip.image_size, clip.image_size, device=device)
    labels = torch.randint(0, args.classes, (args.batch,), device=device)

    def step() -> None:
        with autocast(device):
            logits = model.logits(model.encode_image(images), model.encode_tokens(tokens))
            loss = F.cross_entropy(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    model.recompute_text = args.checkpointing == "on"
    seconds, peak = timed(step, args.repeats, device)
    print(f"{name} on {device}: {args.classes} classes, batch {args.batch}, {args.n_ctx}+{args.n_ctx} prompts in "
          f"{clip.depth} blocks, text context {int(tokens.argmax(-1).max()) + 1} tokens; text checkpointing "
          f"{args.checkpointing:3s}: {args.batch / seconds:7.1f} images/s, {seconds:6.2f} s/step, "
          f"peak extra memory {peak:6.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
