"""Benchmark the prompted forward on ViT-B/16 (random init; weights do not change the cost).

(a) text tower over 100 class prompts: the full 77-token context for every prompt vs the default
    (truncated at the longest EOS, the positions all prompts share computed once).
(b) image tower: fast path (scaled_dot_product_attention) vs attention capture.

    python benchmarks/bench_forward.py [--device cuda] [--batch 8]
"""
from __future__ import annotations

import argparse
import time

import torch

import mmprompts as mp



def _rss_kib(field: str) -> int:
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field))


def timed(fn, repeats: int, device: torch.device) -> tuple[float, float]:
    """Median seconds per call and the peak memory (MiB) the calls added on top of what was held."""
    fn()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        held = torch.cuda.memory_allocated() / 2**20
    else:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # Linux: reset the peak-RSS mark (VmHWM) to the current RSS
        held = _rss_kib("VmRSS:") / 1024
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else _rss_kib("VmHWM:") / 1024
    return sorted(times)[len(times) // 2], peak - held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=8, help="images per forward in (b)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="ViT-B-16-quickgelu")
    parser.add_argument("--classes", type=int, default=100, help="class prompts in (a)")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_grad_enabled(False)

    clip = mp.load_clip(args.model, device=device)
    model = mp.PromptedCLIP(clip, mp.PromptConfig.prompts(4, clip.depth)).to(device)
    names = [f"class number {i} of a fine grained dataset" if i % 3 else f"category {i}" for i in range(args.classes)]
    tokens = model.tokenize(model.prompt_texts(names)).to(device)
    longest = int(tokens.argmax(-1).max()) + 1

    print(f"device={device}  {clip.name}, 4+4 prompts at depth {clip.depth}")
    full_t, full_m = timed(lambda: model.encode_tokens(tokens, truncate=False), args.repeats, device)
    short_t, short_m = timed(lambda: model.encode_tokens(tokens), args.repeats, device)
    print(f"(a) text tower, {args.classes} classes: full {tokens.shape[1]} tokens {full_t*1e3:8.1f} ms | truncated to "
          f"{longest}, shared positions once {short_t*1e3:8.1f} ms | speed-up {full_t/short_t:5.2f}x")
    print(f"    peak memory added: full {full_m:.0f} MiB | truncated {short_m:.0f} MiB | ratio {full_m/max(short_m, 1):.1f}x")

    images = torch.randn(args.batch, 3, clip.image_size, clip.image_size, device=device)
    fast_t, fast_m = timed(lambda: model.encode_image(images), args.repeats, device)
    traced_t, traced_m = timed(lambda: model.encode_image(images, trace=mp.Trace()), args.repeats, device)
    print(f"(b) image tower, batch {args.batch}: fast path {fast_t*1e3:8.1f} ms | attention capture "
          f"{traced_t*1e3:8.1f} ms | capture costs {traced_t/fast_t:5.2f}x")
    print(f"    peak memory added: fast {fast_m:.0f} MiB | capture {traced_m:.0f} MiB")


if __name__ == "__main__":
    main()
