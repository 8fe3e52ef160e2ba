"""Platform fingerprints: what differs between two machines, in words."""

from __future__ import annotations

from mlops.core.platform import differences, fingerprint, package_versions, runtime_details, summary

R_SESSION = """R version 4.2.2 Patched (2022-11-10 r83330)
Platform: x86_64-pc-linux-gnu (64-bit)
Running under: Debian GNU/Linux 12 (bookworm)

Matrix products: default
BLAS:   /usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0
LAPACK: /usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3.11.0

other attached packages:
[1] randomForest_4.7-1.1 jsonlite_1.8.4

loaded via a namespace (and not attached):
[1] compiler_4.2.2

# platform environment (python 3.11.7)
numpy==2.4.6
scikit-learn==1.9.1
"""


def test_runtime_details_and_packages_of_an_r_session() -> None:
    details = runtime_details("r", R_SESSION)
    assert details["BLAS"] == "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0"
    assert details["R version"].startswith("R version 4.2.2")
    assert details["Running under"] == "Debian GNU/Linux 12 (bookworm)"
    packages = package_versions(R_SESSION)
    assert packages == {
        "R:randomForest": "4.7-1.1", "R:jsonlite": "1.8.4", "R:compiler": "4.2.2",
        "numpy": "2.4.6", "scikit-learn": "1.9.1",
    }  # fmt: skip


def test_julia_details() -> None:
    text = "Julia Version 1.5.3\nPlatform Info:\n  CPU: AMD EPYC\n  LLVM: libLLVM-9.0.1 (ORCJIT, znver2)\n"
    assert runtime_details("julia", text) == {
        "Julia Version": "Julia Version 1.5.3",
        "CPU": "AMD EPYC",
        "LLVM": "libLLVM-9.0.1 (ORCJIT, znver2)",
    }


def test_differences_name_settings_kernels_cpu_and_packages() -> None:
    """Most telling first: settings, then kernels and threads, then CPU and packages."""
    lib = {"api": "openblas", "file": "libscipy_openblas-6cdc3b4a.so", "version": "0.3.30",
           "kernel": "SkylakeX", "threads": 2}  # fmt: skip
    trained = fingerprint(
        {"machine": "x86_64", "cpu": "AMD EPYC", "python": "3.11.7", "settings": {},
         "cpu_flags": ["avx2", "avx512f", "fma"], "numpy_simd": ["X86_V3", "X86_V4"],
         "libraries": [lib]}, "python", "numpy==2.4.6\nscipy==1.17.1\n",
    )  # fmt: skip
    here = fingerprint(
        {"machine": "x86_64", "cpu": "Intel Xeon", "python": "3.11.7",
         "settings": {"OPENBLAS_CORETYPE": "Haswell"}, "cpu_flags": ["avx2", "fma"],
         "numpy_simd": ["X86_V3"],
         "libraries": [{**lib, "file": "libscipy_openblas-11112222.so", "kernel": "Haswell",
                        "threads": 1}]}, "python", "numpy==2.4.6\nscipy==1.18.0\n",
    )  # fmt: skip
    assert differences(trained, here) == [
        "setting OPENBLAS_CORETYPE: not set when trained, Haswell here",
        "libscipy_openblas.so kernel: SkylakeX when trained, Haswell here",
        "libscipy_openblas.so threads: 2 when trained, 1 here",
        "CPU: AMD EPYC when trained, Intel Xeon here",
        "CPU features: here without avx512f",
        "numpy SIMD: here without X86_V4",
        "package scipy: 1.17.1 when trained, 1.18.0 here",
    ]
    assert differences(trained, trained) == []
    assert summary(here) == (
        "x86_64 Intel Xeon; libscipy_openblas 0.3.30 Haswell x1; OPENBLAS_CORETYPE=Haswell"
    )


def test_a_library_loaded_on_one_side_only() -> None:
    lib = {"api": "mkl", "file": "libmkl_rt.so.2", "version": "2024", "threads": 2}
    found = differences({"libraries": [lib]}, {"libraries": []})
    assert found == ["library libmkl_rt.so.2: loaded when trained only"]
