"""The platform a model's numbers depend on: CPU, the BLAS kernels loaded, thread settings.

OpenBLAS picks its kernel when it is loaded, from the CPU and the environment
(`OPENBLAS_CORETYPE`), so the probe runs as its own process with the environment the
pipeline's stages get (`python -m mlops.adapters.platform_probe` prints one JSON object):
what it reports is what they loaded, not what this process happened to load earlier.
Only the standard library is imported here; numpy, SciPy and threadpoolctl in the probe.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from mlops.core.platform import CPU_FLAGS, SETTINGS
from mlops.errors import MlopsError


class Probe:
    """The probe, started at once to run beside other work; `result()` waits for it."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-m", "mlops.adapters.platform_probe"], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def result(self, timeout: float = 120) -> dict[str, Any]:
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            raise MlopsError(f"the platform probe did not answer within {timeout:.0f} s") from None
        if self.process.returncode != 0:
            tail = (err.strip().splitlines() or ["no message"])[-1]
            raise MlopsError(f"the platform probe failed (exit {self.process.returncode}): {tail}")
        data: dict[str, Any] = json.loads(out)
        return data


def probe() -> dict[str, Any]:
    """What this process sees: run only inside the probe process."""
    import importlib

    import numpy

    importlib.import_module("scipy.linalg")  # loads SciPy's own BLAS
    threadpoolctl = importlib.import_module("threadpoolctl")

    return {
        "system": platform.system(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_flags": sorted(set(CPU_FLAGS) & _cpu_flags()),
        "numpy_simd": _numpy_simd(numpy),
        "libraries": sorted(
            (_library(info) for info in threadpoolctl.threadpool_info()),
            key=lambda lib: lib["file"],
        ),
        "settings": {k: os.environ[k] for k in SETTINGS if k in os.environ},
        "python": platform.python_version(),
    }


def _library(info: dict[str, Any]) -> dict[str, Any]:
    """One BLAS or OpenMP library: its file's name (not its folder), version, kernel, threads."""
    entry = {
        "api": str(info.get("internal_api")),
        "file": Path(str(info.get("filepath", ""))).name,
        "version": info.get("version"),
        "threads": info.get("num_threads"),
    }
    if info.get("architecture"):
        entry["kernel"] = info["architecture"]
    return entry


def _cpu_info() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _cpu_model() -> str:
    for line in _cpu_info():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "cpu model"):
            return value.strip()
    return platform.processor() or "unknown"


def _cpu_flags() -> set[str]:
    for line in _cpu_info():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def _numpy_simd(numpy: Any) -> list[str]:
    """The SIMD extensions numpy dispatches to on this CPU (its own kernels, not BLAS)."""
    try:
        umath = numpy._core._multiarray_umath
    except AttributeError:  # numpy 1.x
        umath = numpy.core._multiarray_umath
    features = getattr(umath, "__cpu_features__", {})
    return [f for f in getattr(umath, "__cpu_dispatch__", []) if features.get(f)]


if __name__ == "__main__":
    json.dump(probe(), sys.stdout, sort_keys=True)
