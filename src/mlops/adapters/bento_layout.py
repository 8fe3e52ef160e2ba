"""Where BentoML puts a bento in the images it builds, and how a container of one serves.

`mlops build` copies this package's serving modules into the bento's build context, which
BentoML places at BENTO_SOURCE. A container serves by running our launcher from there, the
workers loading the bento itself (BENTO_PATH), as `bentoml serve $BENTO_PATH` would, about
two seconds sooner. Images built before their bento carried the launcher lack its label and
serve as they always did, through BentoML's entrypoint: a revert to an old version runs its
old image unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

BENTO_PATH = "/home/bentoml/bento"
BENTO_SOURCE = f"{BENTO_PATH}/src"
LAUNCHER_LABEL = "mlops.launcher"  # on images whose bento carries mlops.serving.launcher


def serve_command(port: int, labels: Mapping[str, str]) -> tuple[list[str], str | None]:
    """What a container of the image with `labels` runs to serve on 127.0.0.1:`port`, and
    its working directory (None: the image's own)."""
    if LAUNCHER_LABEL in labels:
        command = ["python", "-m", "mlops.serving.launcher", "--host", "127.0.0.1",
                   "--port", str(port), "--service", BENTO_PATH]  # fmt: skip
        return command, BENTO_SOURCE
    return ["serve", "--host", "127.0.0.1", "--port", str(port)], None
