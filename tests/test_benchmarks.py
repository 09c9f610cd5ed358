"""Every benchmark script runs, once, in a tiny setting on the CPU (the GPU check with `--tiny`), so none breaks silently."""
from __future__ import annotations

import os
import subprocess
import sys

from mmprompts.storage import project_root

BENCHMARKS = project_root() / "benchmarks"
TOY = str(project_root() / "lib" / "mmprompts" / "assets" / "toy-vit.json")


def _run(command: list[str], tmp_path) -> str:
    env = {**os.environ, "MMPROMPTS_CACHE": str(tmp_path / "cache"), "PYTHONPATH": os.pathsep.join(
        filter(None, [str(project_root() / "lib"), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(command, cwd=BENCHMARKS, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_gpu_check_runs_tiny_on_the_cpu(tmp_path):
    """benchmarks/gpu_check.sh --tiny: bench_multirun, bench_text_checkpointing, bench_relevancy, bench_transplant,
    bench_device."""
    out = _run(["bash", "gpu_check.sh", "--tiny"], tmp_path)
    rows = [line for line in out.splitlines() if line.startswith("|   ") and "generated" in line]
    assert [row.split("|")[1].strip() for row in rows] == ["1", "2"]  # groups of 1 and 2 runs, both trained
    assert out.count("; text checkpointing") == 2 and "per-pair loop" in out and "speed-up" in out
    assert "CPU fp32 vs cpu autocast" in out and "estimated training time of `book --profile paper`" in out
    assert "all 6 arms x 3 branches" in out and "images/s" in out  # bench_transplant.py


def test_bench_forward_runs_tiny(tmp_path):
    out = _run([sys.executable, "bench_forward.py", "--device", "cpu", "--model", TOY, "--classes", "4", "--batch", "2",
                "--repeats", "1"], tmp_path)
    assert "(a) text tower, 4 classes" in out and "(b) image tower, batch 2" in out

