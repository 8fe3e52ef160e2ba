"""Checks of the PNG files evaluation plots are written as."""

from __future__ import annotations

import struct
from pathlib import Path

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes | Path) -> tuple[int, int]:
    """Width and height of a PNG, after checking its signature and header and decoding it
    fully with Pillow (a truncated or corrupt file fails here)."""
    import io

    from PIL import Image

    raw = data.read_bytes() if isinstance(data, Path) else data
    assert raw[:8] == SIGNATURE, "not a PNG signature"
    assert raw[12:16] == b"IHDR", "the first chunk of a PNG is IHDR"
    width, height = struct.unpack(">II", raw[16:24])
    with Image.open(io.BytesIO(raw)) as image:
        image.load()
        assert (image.format, image.size) == ("PNG", (width, height))
    return width, height
