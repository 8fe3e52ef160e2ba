"""A network namespace with only loopback, held by a container on the Docker engine, that
test processes enter with `nsenter` and serving containers join (`container:<name>`), as a
pod's containers share one namespace.

The deploy host of the workflow tests is such a namespace: act, the services it talks to,
nginx and the model containers all meet on its 127.0.0.1, and nothing in it reaches any other
address. The image registry stays on the host's loopback: the engine pulls and pushes there.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlops.adapters import containers


@dataclass(frozen=True)
class Namespace:
    name: str  # the holding container's
    pid: int  # its process, whose network namespace this is

    @property
    def prefix(self) -> list[str]:
        """The command prefix that runs a program inside the namespace."""
        return ["nsenter", f"--net=/proc/{self.pid}/ns/net", "--"]

    @property
    def network(self) -> str:
        """The docker target's `network` setting that puts serving containers inside."""
        return f"container:{self.name}"


@contextmanager
def container_namespace(image: str) -> Iterator[Namespace]:
    """A fresh namespace held by a container of `image` (any image with `sleep`); the holder
    and every container that joined it are removed afterwards."""
    engine = containers.engine()
    name = f"mlops-netns-{secrets.token_hex(4)}"
    holder = engine.containers.run(image, ["sleep", "infinity"], name=name, network_mode="none",
                                   detach=True, auto_remove=False)  # fmt: skip
    try:
        holder.reload()
        yield Namespace(name, int(holder.attrs["State"]["Pid"]))
    finally:
        for container in engine.containers.list(all=True):
            mode = container.attrs.get("HostConfig", {}).get("NetworkMode", "")
            if mode in (f"container:{name}", f"container:{holder.id}"):
                container.remove(force=True)
        holder.remove(force=True)


@contextmanager
def egress(ns: Namespace) -> Iterator[dict[str, str]]:
    """The namespace's way out to the package index (egress.py), running until the block
    ends; yields the proxy environment a process inside needs (loopback stays direct)."""
    script = Path(__file__).parent / "egress.py"
    process = subprocess.Popen([sys.executable, str(script), str(ns.pid)],
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), "the egress proxy did not start"
        proxy = f"http://127.0.0.1:{port}"
        yield {name: value for key, value in (("https_proxy", proxy), ("http_proxy", proxy),
                                              ("no_proxy", "127.0.0.1,localhost"))
               for name in (key, key.upper())}  # fmt: skip
    finally:
        process.terminate()
        process.wait(timeout=10)
