"""What the mini world offers: zero-shot and 16-shot tuning accuracy of the shipped mini CLIP per task.

    python -m mmprompts.mini_report [--seeds 1 2 3] [--cache DIR]

Prints, per task, zero-shot accuracy and the 16-shot accuracy (mean ± std over the seeds)
of deep prompts (4+4 in every block) and of bias tuning (every block), trained with the
`mini` profile's recipe, plus how long pretraining took. Runs go through the run cache, so
the book reuses them and a second call prints at once.
"""
from __future__ import annotations

import argparse
import json

from .data.miniworld import MINI_TASKS
from .experiments import RunSpec, run_all
from .prompted import PromptConfig
from .tables import Cell, summary
from .models import SHIPPED_MODELS, manifest_path
from .profiles import settings

__all__ = ["mini_report"]


def mini_report(seeds: tuple[int, ...] = (1, 2, 3), cache: str | None = None, progress: bool = True) -> str:
    config = settings("mini", seeds=list(seeds), cache=cache)
    clip = config.load_model()
    layers = clip.depth
    prompts, bias = PromptConfig.prompts(config.n_ctx, layers), PromptConfig.bias(range(layers))
    specs = [RunSpec(task) for task in config.datasets]
    specs += [RunSpec(task, method, s) for task in config.datasets for method in (prompts, bias) for s in seeds]
    accuracies = run_all(specs, clip, config, progress=progress)

    weights = SHIPPED_MODELS["mini-clip"]["mini-world"]
    manifest = json.loads(manifest_path(weights).read_text())
    recipe = config.recipe
    lines = [
        f"mini-clip ({weights.stat().st_size / 2**20:.1f} MB), pretrained for {manifest['recipe']['vision_warmup']} "
        f"vision warm-up + {manifest['recipe']['steps']} contrastive steps in {manifest['pretraining_seconds'] / 60:.1f} min "
        f"({manifest['threads']} CPU threads)",
        f"tuning: {config.shots} shots, seeds {list(seeds)}, SGD lr {recipe.lr}, {recipe.epochs} epochs, "
        f"batch {recipe.batch_size}, random crops of at least {recipe.min_crop_scale:.0%} of the image",
        "",
        f"{'task':<10} {'kind':<46} {'zero-shot':>9} {'prompts ' + str(config.n_ctx) + '+' + str(config.n_ctx):>15} "
        f"{'bias':>15} {'best gain':>9}",
    ]
    for task in config.datasets:
        zero = summary(accuracies, task, None, None).mean
        tuned = summary(accuracies, task, prompts, None)
        biased = summary(accuracies, task, bias, None)
        means = [c.mean for c in (tuned, biased) if isinstance(c, Cell)]  # a diverged method has no mean
        gain = f"{max(means) - zero:+9.2f}" if means else f"{'–':>9}"
        lines.append(f"{task:<10} {MINI_TASKS[task].kind:<46} {zero:9.2f} {_mean_std(tuned)} {_mean_std(biased)} {gain}")
    return "\n".join(lines)


def _mean_std(cell) -> str:
    return f"{cell.mean:8.2f} ± {cell.std:4.2f}" if isinstance(cell, Cell) else f"{str(cell):>15}"


def main(argv: list[str] | None = None) -> int:
    from .cli import guarded

    return guarded(_main, argv)


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmprompts.mini_report", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--cache", default=None, help="run cache folder (default: $MMPROMPTS_CACHE or ~/.cache/mmprompts)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    print(mini_report(tuple(args.seeds), args.cache, progress=not args.quiet))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
