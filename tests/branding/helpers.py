"""Images made with Pillow for the logo tests, and a hand-made PNG header for a bomb."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

GPS_IFD = 0x8825


def image_bytes(
    fmt: str, size: tuple[int, int] = (300, 200), *, mode: str = "RGB", **save
) -> bytes:
    """A ``size`` image in ``fmt`` (PNG, JPEG, WEBP, GIF): left half red, right half blue."""
    image = Image.new(mode, size, "red")
    image.paste("blue", (size[0] // 2, 0, size[0], size[1]))
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    """A JPEG whose EXIF holds a GPS position and a camera model."""
    exif = Image.Exif()
    exif[0x0110] = "SecretCam 3000"  # Model
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    return image_bytes("JPEG", (400, 300), exif=exif.tobytes())


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes of PNG whose header declares ``width`` x ``height`` pixels
    (8-bit grey); its data holds a single row."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = zlib.compress(b"\x00" + b"\x00" * min(width, 1000))
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", row) + _chunk(b"IEND", b"")
    )


def large_blank_png(side: int) -> bytes:
    """A real, valid PNG of ``side`` x ``side`` black pixels (small once compressed)."""
    out = io.BytesIO()
    Image.new("L", (side, side)).save(out, format="PNG", optimize=False)
    return out.getvalue()
