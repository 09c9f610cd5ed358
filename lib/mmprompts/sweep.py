"""Sweeps on Ray: the runs of a table preset as independent Ray tasks, results in the run cache.

    python -m mmprompts sweep --preset table1 --profile paper -p data_root /data/coop [--address auto]
    python -m mmprompts tables --preset table1 --profile paper -p data_root /data/coop --format csv

`ray.init()` starts a local Ray on this machine (all its GPUs, or its CPUs) unless `address`
joins a running cluster. The missing runs that differ only in their seed are one task, trained
together (`multirun.py`); a task asks for one GPU when the cluster has GPUs, else for
`cpus_per_run` CPUs. Runs already in the cache are read without starting a task, so
re-running a sweep only trains what is missing; a run that raises is reported with its
error and the others go on. Workers must see the same run cache (a shared folder on a
cluster) and the same data root.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Sequence

from .experiments import FailedRun, RunSpec, execute_group, group_specs, outcome, table1_specs, table2_specs, table3_specs
from .progress import progress_bar
from .profiles import Settings

__all__ = ["PRESETS", "SweepResult", "preset_specs", "run_sweep"]

PRESETS = ("table1", "table2", "table3", "all")


def preset_specs(preset: str, settings: Settings, layers: int) -> list[RunSpec]:
    """The runs of one of the paper's tables, or of all three ('all', each run once)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {PRESETS}")
    specs = []
    if preset in ("table1", "all"):
        specs += table1_specs(settings.datasets, settings.seeds, layers)
    if preset in ("table2", "all"):
        specs += table2_specs(settings.datasets, settings.seeds, settings.depths)
    if preset in ("table3", "all"):
        specs += table3_specs(settings.datasets, settings.seeds, layers, settings.prompt_counts)
    return list(dict.fromkeys(specs))


@dataclass
class SweepResult:
    accuracies: dict[RunSpec, float | FailedRun] = field(default_factory=dict)  # diverged runs are results too
    errors: dict[RunSpec, str] = field(default_factory=dict)
    from_cache: int = 0


# One model and dataset per worker process: loading them is the slow part of a short run.
_WORKER_STATE: dict = {}


def _run_group(specs: list[RunSpec], settings: Settings) -> list[float | FailedRun | str]:
    """One Ray task: a group of `group_specs` trained together; the accuracy or the error per spec."""
    from .data import load_dataset

    if "clip" not in _WORKER_STATE:
        _WORKER_STATE["clip"] = settings.load_model()
    key = ("data", specs[0].dataset)
    if key not in _WORKER_STATE:
        _WORKER_STATE[key] = load_dataset(specs[0].dataset, settings.data_root)
    results = execute_group(specs, _WORKER_STATE["clip"], _WORKER_STATE[key], settings, progress=False)
    return [_error_text(r) if isinstance(r, Exception) else r if isinstance(r, FailedRun) else r.accuracy for r in results]


def _error_text(err: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(err), err)).strip()


def run_sweep(specs: Sequence[RunSpec], settings: Settings, address: str | None = None, cpus_per_run: float = 1.0,
              progress: bool = True, ray_init: dict | None = None) -> SweepResult:
    """Run every spec once (cached ones are only read), on Ray, and collect accuracies and errors."""
    import ray

    from .data import load_dataset

    result = SweepResult()
    clip = settings.load_model()
    datasets = {name: load_dataset(name, settings.data_root) for name in sorted({s.dataset for s in specs})}
    missing = []
    for spec in dict.fromkeys(specs):
        try:
            found = outcome(spec, clip, datasets[spec.dataset], settings, only_cached=True)
            if isinstance(found, FailedRun) and found.reason != "diverged":
                raise LookupError(found.detail)  # an unreadable run file: the task retrains it
            result.accuracies[spec] = found if isinstance(found, FailedRun) else found.accuracy
            result.from_cache += 1
        except Exception:  # not in the cache, or not even buildable: the task reports the real error
            missing.append(spec)
    if not missing:
        return result

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, **(ray_init or {}))
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        options = {"num_gpus": 1} if gpus else {"num_cpus": cpus_per_run}
        remote = ray.remote(max_retries=0)(_run_group).options(**options)
        if settings.device.startswith("cuda") and not gpus:
            raise ValueError(f"device={settings.device!r} but the Ray cluster has no GPU")
        pending = {remote.remote(group, settings): group for group in group_specs(missing)}
        bar = progress_bar(None, progress, total=len(specs), initial=len(result.accuracies) + len(result.errors),
                           desc="sweep runs")
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            group = pending.pop(done[0])
            try:
                values = ray.get(done[0])
            except Exception as err:  # the task's exception, re-raised by Ray: every run of the group failed
                values = [_error_text(getattr(err, "cause", None) or err)] * len(group)
            for spec, value in zip(group, values):
                if isinstance(value, str):
                    result.errors[spec] = value
                else:
                    result.accuracies[spec] = value  # an accuracy, or a FailedRun (e.g. diverged)
            bar.update(len(group))
            bar.set_postfix(failed=len(result.errors))
        bar.close()
    finally:
        if started_here:
            ray.shutdown()
    return result
