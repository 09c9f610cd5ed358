"""What the mini world offers, and how much Table 1's verdicts depend on its design.

    python -m mmprompts.mini_report [--seeds 1 2 3] [--cache DIR] [--quiet]

Prints, per mini task (the six paper analogues, then the novel-vocabulary ablation), its paper
analogue, zero-shot accuracy and the 16-shot accuracy (mean ± std over the seeds) of Table 1's
columns: 1+1 prompts in every block, bias tuning, and OPTIMAL (10+10 prompts in every block),
trained with the `mini` profile's recipe; then the statements of Table 1 (and page 1's zero-shot
statement) decided with the EuroSAT stand-in's known class names and with its ablation in its
place (`mmprompts.worlds`). Runs go through the run cache, so the book reuses them.
"""
from __future__ import annotations

import argparse
import json

from .data import load_dataset
from .data.miniworld import MINI_TASKS
from .experiments import run_all
from .presets import table1_specs
from .models import SHIPPED_MODELS, manifest_path
from .profiles import settings
from .tables import Cell, table1, task_accuracies
from .variants import flipped
from .worlds import world_dependence, world_designs, world_tasks

__all__ = ["mini_report"]

COLUMNS = {"zeroshot": "zero-shot", "prompt": "prompts 1+1", "bias": "bias", "optimal": "prompts 10+10"}


def mini_report(seeds: tuple[int, ...] = (1, 2, 3), cache: str | None = None, progress: bool = True) -> str:
    config = settings("mini", seeds=list(seeds), cache=cache)
    clip = config.load_model()
    layers = clip.depth
    designs = world_designs(config.datasets)
    tasks = world_tasks(config.datasets)
    accuracies = run_all(table1_specs(tasks, seeds, layers), clip, config, progress=progress)
    rows = table1(accuracies, tasks, layers)

    weights = SHIPPED_MODELS["mini-clip"]["mini-world"]
    manifest = json.loads(manifest_path(weights).read_text())
    visual = clip.model.visual
    recipe = config.recipe
    lines = [
        f"mini-clip: {len(visual.transformer.resblocks)} blocks per tower, width {visual.transformer.width}, "
        f"{clip.image_size}-px images ({weights.stat().st_size / 2**20:.1f} MB); pretrained for "
        f"{manifest['recipe']['vision_warmup']} vision warm-up + {manifest['recipe']['steps']} contrastive steps in "
        f"{manifest['pretraining_seconds'] / 60:.1f} min ({manifest['threads']} CPU threads)",
        f"tuning: {config.shots} shots, seeds {list(seeds)}, SGD lr {recipe.lr}, {recipe.epochs} epochs, "
        f"batch {recipe.batch_size}, random crops of at least {recipe.min_crop_scale:.0%} of the image",
        "",
        f"{'task':<11} {'paper analogue':<15} {'classes':>7} " + " ".join(f"{name:>15}" for name in COLUMNS.values()),
    ]
    ablations = [t for t in tasks if MINI_TASKS[t].ablation]
    for task in [t for t in tasks if t not in ablations] + ablations:
        if ablations and task == ablations[0]:
            lines.append("ablation, kept out of every average:")
        cells = " ".join(_mean_std(rows[task][column]) for column in COLUMNS)
        lines.append(f"{task:<11} {MINI_TASKS[task].analogue:<15} {len(MINI_TASKS[task].classnames):>7} {cells}")
    data = {name: load_dataset(name, config.data_root) for name in tasks}
    dependence = world_dependence(task_accuracies(accuracies, data, layers), config.datasets)
    if dependence:
        lines += ["", "verdicts per world design (" + " | ".join(designs) + "):"]
        for result in dependence:
            lines.append(f"  {result.claim:<38} " + " | ".join(v.outcome for v in result.verdicts.values()))
            lines += [f"      {design}: {v.sentence}" for design, v in result.verdicts.items()]
        lines += ["", flipped(dependence, "world design")]
    return "\n".join(lines)


def _mean_std(cell) -> str:
    if isinstance(cell, Cell):
        return f"{cell.mean:6.2f} ± {cell.std:5.2f}" if cell.runs > 1 else f"{cell.mean:15.2f}"
    return f"{str(cell):>15}"


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
