"""Platform fingerprints: what, besides code, data and parameters, decides a model's bytes.

Floating-point results depend on the BLAS kernel (chosen from the CPU, or forced with
`OPENBLAS_CORETYPE`), on numpy's SIMD dispatch, on thread counts and on library versions. A
fingerprint records them with each training run, so that a reproduction on another machine
can say why its artifact is not bit-identical. Plain data in, plain data out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# CPU features that select numerical kernels (BLAS, numpy, LLVM code generation).
CPU_FLAGS = (
    "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl",
    "avx512_vnni", "avx512_bf16", "amx_tile", "asimd", "sve", "sve2",
)  # fmt: skip
# Environment settings that change which kernels run, and on how many threads.
SETTINGS = (
    "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
    "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "NPY_DISABLE_CPU_FEATURES", "JULIA_NUM_THREADS",
    "JULIA_CPU_TARGET", "R_DEFAULT_PACKAGES",
)  # fmt: skip
# Lines of R's sessionInfo() and Julia's versioninfo() that name the numerical libraries.
_RUNTIME_LINES = {
    "r": ("BLAS:", "LAPACK:", "Matrix products:", "Running under:", "R version"),
    "julia": ("Julia Version", "CPU:", "WORD_SIZE:", "LIBM:", "LLVM:", "Threads:"),
}
_PACKAGE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")
_R_PACKAGE = re.compile(r"\b([A-Za-z][A-Za-z0-9.]*)_(\d[0-9.-]*)\b")


def runtime_details(language: str, lock: str) -> dict[str, str]:
    """The lines of an R or Julia environment report that name its numerical libraries."""
    details: dict[str, str] = {}
    for line in lock.splitlines():
        text = line.strip()
        for prefix in _RUNTIME_LINES.get(language, ()):
            if text.startswith(prefix):
                key = prefix.rstrip(":")
                details[key] = text[len(prefix) :].strip(" :") if prefix.endswith(":") else text
    return details


def package_versions(lock: str) -> dict[str, str]:
    """Package versions in an environment report: `name==version` lines (Python) and R's
    `name_version` entries of attached and loaded packages."""
    found: dict[str, str] = {}
    r_section = False
    for line in lock.splitlines():
        text = line.strip()
        if match := _PACKAGE.match(text):
            found[match[1].lower()] = match[2]
        elif text.startswith(("other attached packages", "loaded via a namespace")):
            r_section = True
        elif r_section and text.startswith("["):
            found.update({f"R:{name}": version for name, version in _R_PACKAGE.findall(text)})
        elif not text:
            r_section = False
    return found


def fingerprint(probe: Mapping[str, Any], language: str, lock: str) -> dict[str, Any]:
    """The whole fingerprint: the probe's findings, the runtime's libraries, package versions."""
    return {
        **probe,
        "language": language,
        "runtime": runtime_details(language, lock),
        "packages": package_versions(lock),
    }


def summary(fp: Mapping[str, Any]) -> str:
    """One line for a tag: architecture, CPU, and each BLAS with its kernel and threads."""
    blas = [
        " ".join(str(part) for part in (lib.get("file", "?").split("-")[0], lib.get("version"),
                                         lib.get("kernel"), f"x{lib.get('threads')}") if part)
        for lib in fp.get("libraries", [])
        if lib.get("api") not in ("openmp", None)
    ]  # fmt: skip
    settings = ", ".join(f"{k}={v}" for k, v in sorted(fp.get("settings", {}).items()))
    parts = [f"{fp.get('machine', '?')} {fp.get('cpu', '?')}", *blas]
    if settings:
        parts.append(settings)
    return "; ".join(parts)[:500]


def differences(recorded: Mapping[str, Any], here: Mapping[str, Any]) -> list[str]:
    """What differs between the platform that trained and this one, in words, most telling
    first: settings and kernels before CPU and library versions."""
    found: list[str] = []
    found += _mapping_changes("setting", recorded.get("settings", {}), here.get("settings", {}))
    found += _library_changes(recorded.get("libraries", []), here.get("libraries", []))
    for key, label in (("machine", "architecture"), ("cpu", "CPU"), ("python", "Python")):
        if recorded.get(key) != here.get(key):
            found.append(f"{label}: {recorded.get(key)} when trained, {here.get(key)} here")
    found += _set_changes("CPU features", recorded.get("cpu_flags"), here.get("cpu_flags"))
    found += _set_changes("numpy SIMD", recorded.get("numpy_simd"), here.get("numpy_simd"))
    found += _mapping_changes("runtime", recorded.get("runtime", {}), here.get("runtime", {}))
    found += _mapping_changes("package", recorded.get("packages", {}), here.get("packages", {}))
    return found


def _mapping_changes(kind: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    unset = "not set"
    return [
        f"{kind} {key}: {before.get(key, unset)} when trained, {after.get(key, unset)} here"
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def _set_changes(label: str, before: Any, after: Any) -> list[str]:
    if before is None or after is None or set(before) == set(after):
        return []
    gone, new = sorted(set(before) - set(after)), sorted(set(after) - set(before))
    words = [f"without {', '.join(gone)}" if gone else "", f"with {', '.join(new)}" if new else ""]
    return [f"{label}: here " + " and ".join(w for w in words if w)]


def _library_changes(before: list[Mapping[str, Any]], after: list[Mapping[str, Any]]) -> list[str]:
    def by_name(libraries: list[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
        return {_library_name(lib): lib for lib in libraries}

    old, new = by_name(before), by_name(after)
    found = []
    for name in sorted(set(old) | set(new)):
        if name not in new or name not in old:
            where = "when trained only" if name in old else "here only"
            found.append(f"library {name}: loaded {where}")
            continue
        for key, label in (("kernel", "kernel"), ("threads", "threads"), ("version", "version")):
            if old[name].get(key) != new[name].get(key):
                found.append(f"{name} {label}: {old[name].get(key)} when trained, "
                             f"{new[name].get(key)} here")  # fmt: skip
    return found


def _library_name(library: Mapping[str, Any]) -> str:
    """A library's name without the build hash wheels add (libscipy_openblas-6cdc3b4a.so)."""
    file = str(library.get("file", "?"))
    return re.sub(r"-[0-9a-f]{8}(?=\.so|\.dylib|\.dll)", "", file)
