"""serving.api.resources as engine limits: cores or millicores, Ki/Mi/Gi, none where unset."""

from __future__ import annotations

import pytest

from mlops.core.resources import Limits, cpu_nanos, limits_of, memory_bytes, replicas_of


@pytest.mark.parametrize(("quantity", "nanos"), [("1", 10**9), ("0.5", 5 * 10**8),
                                                 ("500m", 5 * 10**8), ("2", 2 * 10**9),
                                                 ("0", None), ("one", None), (None, None)])  # fmt: skip
def test_cpu_is_cores_or_millicores(quantity: str | None, nanos: int | None) -> None:
    assert cpu_nanos(quantity) == nanos


@pytest.mark.parametrize(("quantity", "size"), [("512Mi", 512 * 1024**2), ("1Gi", 1024**3),
                                                ("64Ki", 64 * 1024), ("1G", None), (None, None)])  # fmt: skip
def test_memory_is_binary_units(quantity: str | None, size: int | None) -> None:
    assert memory_bytes(quantity) == size


def test_a_manifest_without_resources_sets_no_limit() -> None:
    assert limits_of({}) == Limits()
    assert limits_of({"serving": {"api": {"resources": {"cpu": "250m"}}}}) == Limits(25 * 10**7)
    manifest = {"serving": {"api": {"resources": {"cpu": "1", "memory": "1Gi", "workers": 2}}}}
    assert limits_of(manifest) == Limits(10**9, 1024**3)


def test_replicas_are_per_environment_and_one_where_unset() -> None:
    """serving.api.replicas names a count per environment; any other environment runs one."""
    manifest = {"serving": {"api": {"replicas": {"production": 3}}}}
    assert replicas_of(manifest, "production") == 3
    assert replicas_of(manifest, "staging") == 1
    assert replicas_of({}, "production") == 1
    assert replicas_of({"serving": {"api": {"replicas": {"production": True}}}}, "production") == 1
