"""The paper's experiments as lists of runs, each trained once and then found in the run cache.

A run is a `RunSpec` (dataset, method as a `PromptConfig`, seed); `presets.py` lists the runs of
Tables 1-3. `results` is the one way pages, the CLI, the sweep and the reports get runs: the runs
missing from the cache are trained in the groups `runs.plan_groups` makes (on a CPU in several
processes), so a run trained for one page is reused by every other page that needs it, and the
same list of runs always trains in the same groups. A run that diverged or whose files cannot be
read is a `FailedRun`, a result of the experiment; `tables.py` aggregates the results.
"""
from __future__ import annotations

import contextlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from .data import load_dataset
from .data.coop import DatasetSplits
from .methods import method_label
from .models import LoadedCLIP
from .profiles import Settings
from .progress import progress_bar
from .prompted import PromptConfig, PromptedCLIP
from .runs import (OpenRun, RunBusy, RunFileCorrupt, RunResult, open_runs, plan_groups, read_log,
                   release_run_folder, run_config, run_folder, run_key, train_group, train_runs, zero_shot_run)
from .train import RunDiverged

__all__ = ["FailedRun", "RunSpec", "finished_results", "plan", "results", "run_all", "run_log", "seed_accuracies",
           "train_planned", "trained_models"]


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


@dataclass(frozen=True)
class FailedRun:
    """A run without an accuracy, in place of one: tables show `reason` instead of a number."""

    reason: str  # "diverged" (the paper's Table 3 dashes) or "unreadable" (a bad run file)
    detail: str  # the error: epoch, step and lr of the divergence, or the file


def _as_result(outcome: RunResult | Exception) -> RunResult | FailedRun | Exception:
    """A run's error as a result of the experiment (FailedRun) when it is one, else the outcome itself."""
    if isinstance(outcome, RunDiverged):
        return FailedRun("diverged", str(outcome))
    if isinstance(outcome, RunFileCorrupt):
        return FailedRun("unreadable", str(outcome))
    return outcome


def results(specs: Sequence[RunSpec], clip: LoadedCLIP, settings: Settings, *,
            splits: dict[str, DatasetSplits] | None = None, only_cached: bool = False, progress: bool = True,
            processes: int | None = None) -> dict[RunSpec, RunResult | FailedRun | Exception]:
    """Every spec's run with the settings' shots, recipe and cache: its RunResult (accuracy, model), a FailedRun,
    or the error that stopped it (a bad configuration; with `only_cached=True`, which never trains, a
    LookupError for a run not in the cache).

    The loaded datasets come from `splits` (DatasetSplits by name), the others from the settings' data root. With
    `processes` > 1 (default: the settings'; CPU only), that many processes of one thread each first train the
    groups into the run cache, then this process reads them: on 2 cores two one-thread processes train two groups
    in about the time one two-thread process trains one and a quarter (the mini model's matrices are too small to
    keep two threads busy). They train the same groups, so the results are the same. What this process trains
    itself (a single group) it trains with one thread too: on a CPU shared with other work, two threads of small
    operations wait on each other many times longer than they compute."""
    unique = list(dict.fromkeys(specs))
    splits = dict(splits or {})
    for name in sorted({spec.dataset for spec in unique} - set(splits)):
        splits[name] = load_dataset(name, settings.data_root)
    processes = settings.processes if processes is None else processes
    trained = [spec for spec in unique if spec.method is not None]
    requests = [(splits[spec.dataset], spec.method, spec.seed) for spec in trained]
    if processes > 1 and not only_cached and settings.device == "cpu":
        _train_in_processes(trained, clip, settings, splits, processes, progress)
    outcomes: dict[RunSpec, RunResult | FailedRun | Exception] = {}
    for spec in unique:
        if spec.method is None:
            try:
                outcomes[spec] = zero_shot_run(clip, splits[spec.dataset], cache=settings.cache,
                                               only_cached=only_cached, progress=progress)
            except Exception as err:  # this run only, as for trained runs
                outcomes[spec] = _as_result(err)
    with _threads(1 if processes > 1 and settings.device == "cpu" else torch.get_num_threads()):
        found = train_runs(clip, requests, shots=settings.shots, recipe=settings.recipe, cache=settings.cache,
                           only_cached=only_cached, progress=progress)
    outcomes.update((spec, _as_result(outcome)) for spec, outcome in zip(trained, found))
    return {spec: outcomes[spec] for spec in unique}


@contextlib.contextmanager
def _threads(count: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_all(specs: Sequence[RunSpec], clip: LoadedCLIP, settings: Settings, progress: bool = True,
            only_cached: bool = False, processes: int | None = None) -> dict[RunSpec, float | FailedRun]:
    """`results` as accuracy (or FailedRun) per spec; a program error (a bad configuration, a run missing with
    `only_cached`) stops the call with its error once the other runs are done."""
    found = results(specs, clip, settings, only_cached=only_cached, progress=progress, processes=processes)
    errors = [outcome for outcome in found.values() if isinstance(outcome, Exception)]
    if errors:
        raise errors[0]
    return {spec: outcome if isinstance(outcome, FailedRun) else outcome.accuracy for spec, outcome in found.items()}


def finished_results(specs: Sequence[RunSpec], clip: LoadedCLIP, settings: Settings, *,
                     splits: dict[str, DatasetSplits] | None = None, progress: bool = True) -> dict[RunSpec, RunResult]:
    """`results` for a page that reads what the runs learned: every spec's finished RunResult (trained together when
    missing); a run that failed or could not run stops the page with its reason."""
    found = results(specs, clip, settings, splits=splits, progress=progress)
    for spec, outcome in found.items():
        if isinstance(outcome, Exception):
            raise outcome
        if isinstance(outcome, FailedRun):
            raise RuntimeError(f"{spec.dataset}, {spec.label}, seed {spec.seed}: {outcome.reason}: {outcome.detail}")
    return found


def trained_models(specs: Sequence[RunSpec], clip: LoadedCLIP, settings: Settings, *,
                   splits: dict[str, DatasetSplits] | None = None, progress: bool = True) -> dict[RunSpec, PromptedCLIP]:
    """The learned model of every spec (`finished_results`), for a page that inspects them."""
    return {spec: result.model for spec, result in finished_results(specs, clip, settings, splits=splits,
                                                                     progress=progress).items()}


def run_log(spec: RunSpec, clip: LoadedCLIP, settings: Settings, data: DatasetSplits | None = None) -> list[dict]:
    """The training log of a spec's run (`runs.read_log`); empty when it never trained."""
    data = data or load_dataset(spec.dataset, settings.data_root)
    folder = run_folder(run_key(run_config(clip, data, spec.method, settings.shots, spec.seed, settings.recipe)),
                        settings.cache)
    return read_log(folder) if (folder / "log.jsonl").exists() else []


def plan(specs: Sequence[RunSpec], clip: LoadedCLIP, settings: Settings,
         splits: dict[str, DatasetSplits]) -> list[list[RunSpec]]:
    """The runs of `specs` that need training, in the groups they train in (`runs.plan_groups`); for sharing the
    groups out to processes or machines (`train_planned`)."""
    trained = [spec for spec in dict.fromkeys(specs) if spec.method is not None]
    opened = open_runs(clip, [(splits[s.dataset], s.method, s.seed) for s in trained], shots=settings.shots,
                       recipe=settings.recipe, cache=settings.cache)
    for run in opened:  # planning only: whoever trains a group takes its runs' folders again
        if isinstance(run, OpenRun):
            release_run_folder(run.folder)
    spec_of = {run.key: spec for spec, run in zip(trained, opened) if isinstance(run, OpenRun)}
    groups = plan_groups(list({o.key: o for o in opened if isinstance(o, OpenRun)}.values()), settings.recipe)
    return [[spec_of[run.key] for run in group] for group in groups]


def train_planned(group: Sequence[RunSpec], clip: LoadedCLIP, settings: Settings, splits: dict[str, DatasetSplits],
                  progress: bool = False) -> dict[RunSpec, RunResult | FailedRun | Exception]:
    """Train one group of `plan` as it was planned (elsewhere): the result, failed run or error per spec."""
    opened = open_runs(clip, [(splits[s.dataset], s.method, s.seed) for s in group], shots=settings.shots,
                       recipe=settings.recipe, cache=settings.cache)
    outcomes = {spec: _as_result(run) for spec, run in zip(group, opened) if not isinstance(run, (OpenRun, RunBusy))}
    to_train = [(spec, run) for spec, run in zip(group, opened) if isinstance(run, OpenRun)]
    if to_train:
        trained = train_group([run for _, run in to_train], clip, settings.recipe, progress=progress)
        outcomes.update((spec, _as_result(result)) for (spec, _), result in zip(to_train, trained))
    busy = [spec for spec, run in zip(group, opened) if isinstance(run, RunBusy)]  # another process trains them:
    if busy:  # waited for (train_runs), then read, or trained when that process stopped first
        found = train_runs(clip, [(splits[s.dataset], s.method, s.seed) for s in busy], shots=settings.shots,
                           recipe=settings.recipe, cache=settings.cache, progress=progress)
        outcomes.update((spec, _as_result(result)) for spec, result in zip(busy, found))
    return {spec: outcomes[spec] for spec in group}


def _train_in_processes(specs: list[RunSpec], clip: LoadedCLIP, settings: Settings, splits: dict[str, DatasetSplits],
                        processes: int, progress: bool) -> None:
    """Train the missing runs of `specs`, in the groups of `plan`, in `processes` one-thread processes, into the
    run cache (errors are left for the caller, which meets them again when it reads the runs)."""
    groups = plan(specs, clip, settings, splits)
    if len(groups) < 2:
        return  # nothing to share out: the caller trains it
    context = torch.multiprocessing.get_context("spawn")  # forking a process with OpenMP threads can deadlock
    bar = progress_bar(None, progress, total=sum(len(g) for g in groups), desc=f"runs ({processes} processes)")
    with ProcessPoolExecutor(min(processes, len(groups)), mp_context=context, initializer=_worker_start,
                             initargs=(clip, settings)) as pool:
        futures = [pool.submit(_worker_train, group, {s.dataset: splits[s.dataset] for s in group})
                   for group in groups]
        for future in as_completed(futures):
            bar.update(future.result())
    bar.close()


_WORKER: dict = {}


def _worker_start(clip: LoadedCLIP, settings: Settings) -> None:
    torch.set_num_threads(1)
    _WORKER.update(clip=clip, settings=settings)


def _worker_train(group: list[RunSpec], splits: dict[str, DatasetSplits]) -> int:
    try:
        train_planned(group, _WORKER["clip"], _WORKER["settings"], splits)
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
