"""The deploy host's way out to the package index: an HTTP CONNECT proxy that listens on
127.0.0.1 inside a network namespace (netns.py) and opens its tunnels from the host's own
network, as an air-gapped site's deploy host reaches its index through HTTPS_PROXY.

Image builds resolve and lock the model's Python packages (`bentoml build`), so a deploy job
that builds needs the index; nothing else in the namespace goes out. Only TLS tunnels (port
443) are opened, so the traffic is exactly what the same build sends from the host.

    python tests/egress.py PID     # prints the port, serves until SIGTERM

The listening socket is made by a thread that entered the namespace of process PID (a
network namespace is per thread); the tunnels are opened by the main thread, still in the
host's namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000
ALLOWED_PORTS = frozenset({443})


def listen_inside(pid: int) -> socket.socket:
    """A listening socket on 127.0.0.1 (a free port) of process `pid`'s network namespace."""
    made: dict[str, socket.socket | BaseException] = {}

    def inside() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns into the namespace failed")
            finally:
                os.close(fd)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(64)
            sock.setblocking(False)
            made["socket"] = sock
        except BaseException as exc:
            made["socket"] = exc

    thread = threading.Thread(target=inside)
    thread.start()
    thread.join()
    found = made["socket"]
    if isinstance(found, BaseException):
        raise found
    return found


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError):
        writer.close()


async def _client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        request = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        writer.close()
        return
    method, target, *_ = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    host, _, port = target.rpartition(":")
    if method != "CONNECT" or not port.isdigit() or int(port) not in ALLOWED_PORTS:
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()
        return
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
    except OSError:
        writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()
        return
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await writer.drain()
    await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))


async def serve(listening: socket.socket) -> None:
    server = await asyncio.start_server(_client, sock=listening)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str]) -> int:
    listening = listen_inside(int(argv[0]))
    print(listening.getsockname()[1], flush=True)
    asyncio.run(serve(listening))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
