"""What a container of one of our images runs: the launcher, unless the image predates it."""

from __future__ import annotations

from mlops.adapters.bento_layout import BENTO_PATH, BENTO_SOURCE, LAUNCHER_LABEL, serve_command


def test_an_image_with_the_launcher_runs_it_from_the_bentos_source() -> None:
    command, working_dir = serve_command(8123, {LAUNCHER_LABEL: "1", "mlops.model": "m"})
    assert command == ["python", "-m", "mlops.serving.launcher", "--host", "127.0.0.1",
                       "--port", "8123", "--service", BENTO_PATH]  # fmt: skip
    assert working_dir == BENTO_SOURCE


def test_an_image_built_before_the_launcher_serves_as_it_always_did() -> None:
    """No label: BentoML's entrypoint turns `serve` into `bentoml serve ... $BENTO_PATH`."""
    assert serve_command(8123, {"mlops.model": "m"}) == (
        ["serve", "--host", "127.0.0.1", "--port", "8123"],
        None,
    )
