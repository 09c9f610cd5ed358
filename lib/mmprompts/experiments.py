"""The paper's experiments as lists of runs, each trained once and then found in the run cache.

A run is a `RunSpec` (dataset, method as a `PromptConfig`, seed). The presets list the runs of
Tables 1-3; `execute` trains or loads one run, `execute_group` the seeds of one configuration
together (`multirun.py`). Notebooks, the CLI and the Ray sweep all go through these functions,
so a run trained for one table is reused by every other table that needs it (`tables.py`
aggregates them).
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Sequence

import torch

from .data import load_dataset
from .data.coop import DatasetSplits, Datum
from .models import LoadedCLIP
from .interop import import_prompts
from .multirun import train_group
from .progress import progress_bar
from .prompted import PromptConfig, PromptedCLIP
from .runs import RunFileCorrupt, RunResult, train_run, zero_shot_run
from .train import RunDiverged

__all__ = ["FailedRun", "METHODS", "RunSpec", "analysis_model", "analysis_models", "analysis_run", "analysis_spec", "balanced_items", "execute", "execute_group", "group_specs", "in_batches", "method_config",
           "method_label", "outcome", "run_all", "seed_accuracies", "table1_methods", "table1_specs", "table2_methods", "table2_specs",
           "table3_methods", "table3_specs", "test_images"]


METHODS = ("prompts", "shallow", "text", "vision", "bias")


def method_config(name: str, n_ctx: int, depth: int, layers: int, bias_layers: Sequence[int] | None = None) -> PromptConfig:
    """A method by name (the CLI's --method): IVLP deep prompts, shallow (input-level) prompts,
    CoOp text-only, VPT vision-only (deep), or bias tuning (after `bias_layers`, default every block)."""
    if name == "prompts":
        return PromptConfig.prompts(n_ctx, depth)
    if name == "shallow":
        return PromptConfig.prompts(n_ctx, 1)
    if name == "text":
        return PromptConfig.text_only(n_ctx)
    if name == "vision":
        return PromptConfig.vision_only(n_ctx, depth)
    if name == "bias":
        return PromptConfig.bias(range(layers) if bias_layers is None else bias_layers)
    raise ValueError(f"unknown method {name!r}; choose one of {METHODS}")


def method_label(method: PromptConfig | None) -> str:
    """A readable name: "zero-shot", "4+4 prompts, depth 12", "1+1 prompts, depth 1 (shallow)",
    "4 text prompts (CoOp)", "4 vision prompts, depth 12 (VPT)", "bias after 12 blocks"."""
    if method is None:
        return "zero-shot"
    m, parts = method, []
    if m.n_ctx_vision and (m.n_ctx_vision, m.depth_vision) == (m.n_ctx_text, m.depth_text):
        parts.append(f"{m.n_ctx_text}+{m.n_ctx_text} prompts, depth {m.depth_text}" + (" (shallow)" if m.depth_text == 1 else ""))
    else:
        if m.n_ctx_text:
            parts.append(f"{m.n_ctx_text} text prompts" + (" (CoOp)" if m.depth_text == 1 else f", depth {m.depth_text}"))
        if m.n_ctx_vision:
            parts.append(f"{m.n_ctx_vision} vision prompts, depth {m.depth_vision}" + ("" if m.n_ctx_text else " (VPT)"))
    if m.bias_vision and m.bias_vision == m.bias_text and m.bias_vision == tuple(range(len(m.bias_vision))):
        parts.append(f"bias after {len(m.bias_vision)} blocks")
    elif m.bias_vision or m.bias_text:
        parts.append(f"bias after vision blocks {list(m.bias_vision)}, text blocks {list(m.bias_text)}")
    return " + ".join(parts) or "nothing learned"


@dataclass(frozen=True)
class RunSpec:
    """One run: a dataset, what is learned (None: zero-shot CLIP) and the seed."""

    dataset: str
    method: PromptConfig | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method is not None and not isinstance(self.method, PromptConfig):
            raise TypeError(f"RunSpec method={self.method!r}: give a PromptConfig (e.g. PromptConfig.prompts(4, 12)), "
                            "or None for zero-shot CLIP")

    @property
    def label(self) -> str:
        return method_label(self.method)


def execute(spec: RunSpec, clip: LoadedCLIP, data: DatasetSplits, settings, progress: bool = True,
            only_cached: bool = False) -> RunResult:
    """Train (or load from the cache) one run with the settings' shots, recipe and cache."""
    if spec.method is None:
        return zero_shot_run(clip, data, cache=settings.cache, only_cached=only_cached, progress=progress)
    return train_run(clip, data, spec.method, shots=settings.shots, seed=spec.seed, recipe=settings.recipe,
                     cache=settings.cache, only_cached=only_cached, progress=progress)


@dataclass(frozen=True)
class FailedRun:
    """A run without an accuracy, in place of one: tables show `reason` instead of a number."""

    reason: str  # "diverged" (the paper's Table 3 dashes) or "unreadable" (a bad run file)
    detail: str  # the error: epoch, step and lr of the divergence, or the file


def outcome(spec: RunSpec, clip: LoadedCLIP, data: DatasetSplits, settings, progress: bool = True,
            only_cached: bool = False) -> RunResult | FailedRun:
    """`execute`, with a diverged run or an unreadable run file returned as a FailedRun (a result of
    the experiment, not an error of the program); a run missing with `only_cached` still raises LookupError."""
    try:
        return execute(spec, clip, data, settings, progress=progress, only_cached=only_cached)
    except RunDiverged as err:
        return FailedRun("diverged", str(err))
    except RunFileCorrupt as err:
        return FailedRun("unreadable", str(err))


def _failed(err: Exception) -> FailedRun | Exception:
    """A run's error as a result of the experiment (FailedRun) when it is one, else the error itself."""
    if isinstance(err, RunDiverged):
        return FailedRun("diverged", str(err))
    if isinstance(err, RunFileCorrupt):
        return FailedRun("unreadable", str(err))
    return err


def group_specs(specs: Iterable[RunSpec]) -> list[list[RunSpec]]:
    """The distinct specs in groups that train together: runs that differ only in their seed.

    Such runs share the model, dataset, prompt shape, shots and recipe (the settings'), which is
    what `multirun.train_group` needs; a zero-shot run is a group of its own."""
    groups: dict[RunSpec, list[RunSpec]] = {}
    for spec in dict.fromkeys(specs):
        groups.setdefault(spec if spec.method is None else replace(spec, seed=0), []).append(spec)
    return list(groups.values())


def execute_group(specs: Sequence[RunSpec], clip: LoadedCLIP, data: DatasetSplits, settings, progress: bool = True,
                  only_cached: bool = False) -> list[RunResult | FailedRun | Exception]:
    """`outcome` for one group of `group_specs`, trained together: the result, the failed run or the error per spec."""
    if specs[0].method is None:
        return [outcome(spec, clip, data, settings, progress, only_cached) for spec in specs]
    results = train_group(clip, data, specs[0].method, seeds=[spec.seed for spec in specs], shots=settings.shots,
                          recipe=settings.recipe, cache=settings.cache, only_cached=only_cached, progress=progress)
    return [_failed(r) if isinstance(r, Exception) else r for r in results]


def run_all(specs: Sequence[RunSpec], clip: LoadedCLIP, settings, progress: bool = True,
            on_result: Callable[[RunSpec, RunResult], None] | None = None,
            only_cached: bool = False, workers: int | None = None) -> dict[RunSpec, float | FailedRun]:
    """Execute runs, the seeds of a configuration together; returns accuracy (or FailedRun) per spec.

    With `workers` > 1 (default: the settings'; CPU only), that many processes of one thread each first train the groups
    into the run cache, then this process reads them: on 2 cores two one-thread processes train
    two groups in about the time one two-thread process trains one and a quarter (the mini
    model's matrices are too small to keep two threads busy). The results are the same
    runs, with the same keys and files. A failing run stops the call with its error once the
    other runs of its group are done. `only_cached=True` never trains: a run missing from the
    cache raises LookupError."""
    datasets = {name: load_dataset(name, settings.data_root) for name in sorted({s.dataset for s in specs})}
    groups = group_specs(specs)
    workers = settings.workers if workers is None else workers
    if workers > 1 and not only_cached and settings.device == "cpu":
        _train_in_processes(groups, clip, datasets, settings, workers, progress)
    accuracies = {}
    bar = progress_bar(None, progress, total=len(set(specs)), desc="runs")
    for group in groups:
        results = execute_group(group, clip, datasets[group[0].dataset], settings, progress=False, only_cached=only_cached)
        for spec, result in zip(group, results):
            if isinstance(result, RunResult):
                accuracies[spec] = result.accuracy
                if on_result is not None:
                    on_result(spec, result)
            elif isinstance(result, FailedRun):
                accuracies[spec] = result
        bar.update(len(group))
        errors = [result for result in results if isinstance(result, Exception)]
        if errors:  # a program error (bad config, a run missing with only_cached), not a result: stop here
            raise errors[0]
    bar.close()
    return {spec: accuracies[spec] for spec in dict.fromkeys(specs)}


def _train_in_processes(groups: list[list[RunSpec]], clip: LoadedCLIP, datasets: dict[str, DatasetSplits], settings,
                        workers: int, progress: bool) -> None:
    """Train the groups of runs in `workers` one-thread processes, into the run cache (errors are left for
    the caller, which meets them again when it reads the runs)."""
    trained = [group for group in groups if group[0].method is not None]
    if len(trained) < 2:
        return
    context = torch.multiprocessing.get_context("spawn")  # forking a process with OpenMP threads can deadlock
    bar = progress_bar(None, progress, total=sum(len(g) for g in trained), desc=f"runs ({workers} processes)")
    with ProcessPoolExecutor(min(workers, len(trained)), mp_context=context, initializer=_worker_start,
                             initargs=(clip, settings)) as pool:
        futures = [pool.submit(_worker_train, group, datasets[group[0].dataset]) for group in trained]
        for future in as_completed(futures):
            bar.update(future.result())
    bar.close()


_WORKER: dict = {}


def _worker_start(clip: LoadedCLIP, settings) -> None:
    torch.set_num_threads(1)
    _WORKER.update(clip=clip, settings=settings)


def _worker_train(group: list[RunSpec], data: DatasetSplits) -> int:
    try:
        execute_group(group, _WORKER["clip"], data, _WORKER["settings"], progress=False)
    except Exception:  # noqa: BLE001 - the caller trains this group again and raises its error there
        pass
    return len(group)


def seed_accuracies(accuracies: dict[RunSpec, float | FailedRun], dataset: str, method: PromptConfig | None,
                    failed_as_none: bool = False) -> list[float | None]:
    """The accuracy of each seed of `method` on `dataset`; failed runs are left out, or given as
    None with `failed_as_none` (the instability claim counts them)."""
    values = [a for s, a in accuracies.items() if (s.dataset, s.method) == (dataset, method)]
    if failed_as_none:
        return [None if isinstance(a, FailedRun) else a for a in values]
    return [a for a in values if not isinstance(a, FailedRun)]


# ----------------------------------------------------------------------------- presets
# The one definition of each table's columns: the presets below list their runs, `tables.py`
# looks the runs of each column up with the same methods.
TABLE2_N_CTX = 4  # the paper's Table 2 varies the depth of 4+4 prompts
# Table 1's OPTIMAL column is, on all 11 datasets, Table 3's "20 prompts" row: 10 + 10 prompts in
# every block. The paper calls it "the optimal prompt tuning settings (acquired from the
# sensitivity analysis results)"; its numbers say which setting that was, so this is the definition.
TABLE1_OPTIMAL_N_CTX = 10


def table1_methods(layers: int) -> dict[str, PromptConfig | None]:
    """Table 1's columns: zero-shot, 1+1 prompts in every block (the same parameter count as the
    bias), a bias after every block, and OPTIMAL = 10+10 prompts in every block."""
    return {"zeroshot": None, "prompt": PromptConfig.prompts(1, layers), "bias": PromptConfig.bias(range(layers)),
            "optimal": PromptConfig.prompts(TABLE1_OPTIMAL_N_CTX, layers)}


def table2_methods(depths: Sequence[int]) -> dict[int, PromptConfig | None]:
    """Table 2's columns: 0 (zero-shot) and 4+4 prompts in the first d blocks for every d."""
    return {0: None, **{d: PromptConfig.prompts(TABLE2_N_CTX, d) for d in depths}}


def table3_methods(layers: int, prompt_counts: Sequence[int]) -> dict[int, PromptConfig | None]:
    """Table 3's columns: 0 (zero-shot) and n+n prompts in every block for every n."""
    return {0: None, **{n: PromptConfig.prompts(n, layers) for n in prompt_counts}}


def _specs(datasets: Sequence[str], seeds: Sequence[int], methods: Iterable[PromptConfig | None]) -> list[RunSpec]:
    """Zero-shot once per dataset (it has no seed), every other method once per seed."""
    methods = list(methods)
    zero_shot = [RunSpec(d) for d in datasets] if None in methods else []
    return zero_shot + [RunSpec(d, m, s) for d in datasets for m in methods if m is not None for s in seeds]


def table1_specs(datasets: Sequence[str], seeds: Sequence[int], layers: int) -> list[RunSpec]:
    """The runs of Table 1's four columns."""
    return _specs(datasets, seeds, table1_methods(layers).values())


def table2_specs(datasets: Sequence[str], seeds: Sequence[int], depths: Sequence[int]) -> list[RunSpec]:
    """4+4 prompts in the first d blocks, for every d."""
    return _specs(datasets, seeds, table2_methods(depths).values()) if depths else []


def table3_specs(datasets: Sequence[str], seeds: Sequence[int], layers: int, prompt_counts: Sequence[int]) -> list[RunSpec]:
    """n+n prompts in every block, for every n."""
    return _specs(datasets, seeds, table3_methods(layers, prompt_counts).values()) if prompt_counts else []


# ----------------------------------------------------------------------------- inputs for the analyses
def balanced_items(items: Sequence[Datum], count: int | None) -> list[Datum]:
    """The first `count` items taken round-robin over the classes (all of them for None).

    Deterministic, and balanced so a dataset-level statistic is not dominated by the big classes."""
    if count is None or count >= len(items):
        return list(items)
    by_class: dict[int, list] = {}
    for item in items:
        by_class.setdefault(item.label, []).append(item)
    chosen, index = [], 0
    while len(chosen) < count:
        for members in by_class.values():
            if index < len(members) and len(chosen) < count:
                chosen.append(members[index])
        index += 1
    return chosen


def test_images(clip: LoadedCLIP, data: DatasetSplits, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` test images (eval transform) taken round-robin over the classes (`balanced_items`), with their labels."""
    from .data import ImageDataset, eval_transform

    dataset = ImageDataset(balanced_items(data.test, count), eval_transform(clip))
    images, labels = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(images).to(clip.model.logit_scale.device), torch.tensor(labels)


def in_batches(images: torch.Tensor, labels: torch.Tensor | None = None, size: int = 32):
    """Split a batch into an iterable of batches (with labels when given), for the dataset-level analyses."""
    for start in range(0, len(images), size):
        if labels is None:
            yield images[start : start + size]
        else:
            yield images[start : start + size], labels[start : start + size]


def analysis_run(settings, clip: LoadedCLIP, data: DatasetSplits, progress: bool = True) -> RunResult:
    """The prompted model the analysis pages inspect: n_ctx + n_ctx prompts in every block, first seed.

    It is also a run of Tables 2 and 3 (full depth), so it is trained once for all pages."""
    return execute(analysis_spec(settings, clip, data.name), clip, data, settings, progress)


def analysis_spec(settings, clip: LoadedCLIP, dataset: str) -> RunSpec:
    """The run of the prompted model the analysis pages inspect on `dataset`: n_ctx + n_ctx prompts in every block, first seed."""
    return RunSpec(dataset, settings.analysis_method(clip.depth), settings.seeds[0])


def analysis_models(settings, clip: LoadedCLIP, data: dict[str, DatasetSplits], progress: bool = True) -> dict[str, PromptedCLIP]:
    """`analysis_model` for each dataset of `data`, the runs missing from the cache trained first, together (`run_all`)."""
    if settings.learned is None:
        run_all([analysis_spec(settings, clip, name) for name in data], clip, settings, progress=progress)
    return {name: analysis_model(settings, clip, dataset, progress) for name, dataset in data.items()}


def analysis_model(settings, clip: LoadedCLIP, data: DatasetSplits, progress: bool = True) -> PromptedCLIP:
    """The prompted model an analysis page inspects on `data`: the prompts of the checkpoint
    `settings.learned` (IVLP/PromptSRC, VPT, MaPLe or CoOp, see `interop`), or else this book's
    own analysis run (trained or loaded from the cache)."""
    if settings.learned is not None:
        return import_prompts(settings.learned, clip)
    return analysis_run(settings, clip, data, progress).model
