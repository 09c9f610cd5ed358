"""Sweeps on Ray: the runs of a table preset as independent Ray tasks, results in the run cache.

    python -m mmprompts sweep --preset table1 --profile paper -p data_root /data/coop [--address auto]
    python -m mmprompts tables --preset table1 --profile paper -p data_root /data/coop --format csv

`ray.init()` starts a local Ray on this machine (all its GPUs, or its CPUs) unless `address`
joins a running cluster. Each group of missing runs (`experiments.plan`) is one task, trained
together; a task asks for one GPU when the cluster has GPUs, else for
`cpus_per_run` CPUs. Runs already in the cache are read without starting a task, so
re-running a sweep only trains what is missing; a run that raises is reported with its
error and the others go on. Workers must see the same run cache (a shared folder on a
cluster) and the same data root.
"""
from __future__ import annotations

import math
import os
import socket
import traceback
from dataclasses import dataclass, field
from typing import Sequence

from .data import load_dataset
from .experiments import FailedRun, RunSpec, plan, results, train_planned
from .progress import progress_bar
from .profiles import Settings

__all__ = ["SweepResult", "check_sweep_options", "run_sweep"]

# How long the sweep waits for a cluster given by --address to answer before it says so.
CONNECT_TIMEOUT_S = 10.0


@dataclass
class SweepResult:
    accuracies: dict[RunSpec, float | FailedRun] = field(default_factory=dict)  # diverged runs are results too
    errors: dict[RunSpec, str] = field(default_factory=dict)
    from_cache: int = 0


# One model and dataset per worker process: loading them is the slow part of a short run.
_WORKER_STATE: dict = {}


def _run_group(specs: list[RunSpec], settings: Settings) -> list[float | FailedRun | str]:
    """One Ray task: a group of `experiments.plan` trained together; the accuracy or the error per spec."""
    if "clip" not in _WORKER_STATE:
        _WORKER_STATE["clip"] = settings.load_model()
    splits = _WORKER_STATE.setdefault("splits", {})
    for spec in specs:
        if spec.dataset not in splits:
            splits[spec.dataset] = load_dataset(spec.dataset, settings.data_root)
    outcomes = train_planned(specs, _WORKER_STATE["clip"], settings, splits)
    return [_error_text(r) if isinstance(r, Exception) else r if isinstance(r, FailedRun) else r.accuracy
            for r in outcomes.values()]


def _error_text(err: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(err), err)).strip()


def check_sweep_options(address: str | None, cpus_per_run: float) -> None:
    """Refuse, in one line and before any model loads or Ray starts, what would make the sweep wait forever:
    a task size no machine has (Ray would keep the task pending without a word) or a cluster address where
    nothing answers (Ray would retry for minutes)."""
    if isinstance(cpus_per_run, bool) or not isinstance(cpus_per_run, (int, float)) or not math.isfinite(cpus_per_run) \
            or cpus_per_run <= 0:
        shown = f"{cpus_per_run:g}" if isinstance(cpus_per_run, float) else repr(cpus_per_run)
        raise ValueError(f"--cpus-per-run {shown}: must be a positive number of CPUs, e.g. --cpus-per-run 1")
    if address is None:
        cpus = os.cpu_count() or 1
        if cpus_per_run > cpus:
            raise ValueError(f"--cpus-per-run {cpus_per_run:g}: this machine has {cpus} CPUs, so no task could ever "
                             f"start; give at most --cpus-per-run {cpus}")
        return
    host_port = address.removeprefix("ray://")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        return  # 'auto' or a name Ray resolves itself (it fails fast when no cluster is recorded)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        reason = "no answer" if isinstance(err, TimeoutError) else err.strerror or type(err).__name__
        raise ConnectionError(f"--address {address}: no Ray cluster answers there ({reason}, waited up to "
                              f"{CONNECT_TIMEOUT_S:g} s); start one (ray start --head) or leave out --address to start "
                              "Ray on this machine") from None


def run_sweep(specs: Sequence[RunSpec], settings: Settings, address: str | None = None, cpus_per_run: float = 1.0,
              progress: bool = True, ray_init: dict | None = None) -> SweepResult:
    """Run every spec once (cached ones are only read), on Ray, and collect accuracies and errors.

    A task size the cluster cannot schedule (`cpus_per_run` above its CPUs) or an `address` where nothing
    answers is refused at once (`check_sweep_options`)."""
    import ray  # noqa: F401 - without Ray the sweep stops here, before the model loads

    check_sweep_options(address, cpus_per_run)
    result = SweepResult()
    clip = settings.load_model()
    splits = {name: load_dataset(name, settings.data_root) for name in sorted({s.dataset for s in specs})}
    missing = []
    for spec, found in results(specs, clip, settings, splits=splits, only_cached=True, progress=False).items():
        if isinstance(found, LookupError) or isinstance(found, FailedRun) and found.reason == "unreadable":
            missing.append(spec)  # not in the cache, or a run file that cannot be read: its task trains it again
        elif isinstance(found, Exception):
            result.errors[spec] = _error_text(found)
        else:
            result.accuracies[spec] = found if isinstance(found, FailedRun) else found.accuracy
            result.from_cache += 1
    zero_shot = [spec for spec in missing if spec.method is None]  # an evaluation: no task needed
    for spec, found in results(zero_shot, clip, settings, splits=splits, progress=False).items():
        result.accuracies[spec] = found if isinstance(found, FailedRun) else found.accuracy
    groups = plan([spec for spec in missing if spec.method is not None], clip, settings, splits)
    planned = {spec for group in groups for spec in group}
    # Runs another process trains now (or finished meanwhile): read here once ready, after the tasks
    elsewhere = [spec for spec in missing if spec.method is not None and spec not in planned]
    if groups:
        _run_tasks(groups, specs, settings, address, cpus_per_run, progress, ray_init, result)
    for spec, found in results(elsewhere, clip, settings, splits=splits, progress=False).items():
        if isinstance(found, Exception):
            result.errors[spec] = _error_text(found)
        else:
            result.accuracies[spec] = found if isinstance(found, FailedRun) else found.accuracy
    return result


def _run_tasks(groups: list[list[RunSpec]], specs: Sequence[RunSpec], settings: Settings, address: str | None,
               cpus_per_run: float, progress: bool, ray_init: dict | None, result: SweepResult) -> None:
    """Train the groups as Ray tasks, into `result`."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, **(ray_init or {}))
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        cpus = ray.cluster_resources().get("CPU", 0)
        if not gpus and cpus_per_run > cpus:
            raise ValueError(f"--cpus-per-run {cpus_per_run:g}: the Ray cluster has {cpus:g} CPUs, so no task could "
                             f"ever start; give at most --cpus-per-run {cpus:g}")
        options = {"num_gpus": 1} if gpus else {"num_cpus": cpus_per_run}
        remote = ray.remote(max_retries=0)(_run_group).options(**options)
        if settings.device.startswith("cuda") and not gpus:
            raise ValueError(f"device={settings.device!r} but the Ray cluster has no GPU")
        pending = {remote.remote(group, settings): group for group in groups}
        bar = progress_bar(None, progress, total=len(set(specs)), initial=len(result.accuracies) + len(result.errors),
                           desc="sweep runs")
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)  # a bounded wait: Ctrl-C is seen at once
            if not done:
                continue
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
