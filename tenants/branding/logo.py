"""A brand's logo, from an upload to square WebP variants (pure: bytes in, bytes out).

An upload is hostile until proven otherwise: its type comes from its first bytes (never
its name or a header), its size is capped before Pillow sees it, and its declared
dimensions are capped before a single pixel is decoded, so a small file declaring a huge
canvas (a decompression bomb) is refused from its header. What is kept is re-encoded
from the decoded pixels alone: EXIF (GPS, camera), XMP, ICC profiles, comments and any
trailing data of the upload are not carried over."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 2 * 1024 * 1024
# Our own cap, far below Pillow's global default (~89 M pixels warns, ~179 M refuses):
# a logo needs 512 x 512; a phone photo of 24 M pixels still fits.
MAX_PIXELS = 25_000_000
SIZES = (512, 128, 64)
WEBP_QUALITY = 90

# The first bytes of each accepted format, and Pillow's name for it.
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"


class LogoError(ValueError):
    """An upload that cannot be a logo; ``code`` says why."""

    def __init__(self, message: str, *, code: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Logo:
    sha256: str  # of the upload as received
    variants: dict[int, bytes]  # side in pixels -> WebP


def sniff(data: bytes) -> str | None:
    """Pillow's format name of ``data`` from its signature, or None when it is none of
    PNG, JPEG, WebP."""
    if data.startswith(_PNG):
        return "PNG"
    if data.startswith(_JPEG):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _decoded(data: bytes, fmt: str) -> Image.Image:
    """The upload's first frame, decoded, with its EXIF orientation applied. Raises
    LogoError for anything Pillow cannot read or that is too large to decode."""
    with warnings.catch_warnings():
        # Pillow only warns between its two bomb thresholds: make that an error too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[fmt]) as probe:
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise _too_many_pixels(width, height)
                probe.verify()  # checksums and structure, without decoding pixels
            image = Image.open(io.BytesIO(data), formats=[fmt])
            image.seek(0)  # an animated PNG or WebP: its first frame
            image.load()
            return ImageOps.exif_transpose(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise LogoError(
                f"the image declares more than {MAX_PIXELS:,} pixels", code="logo_too_many_pixels"
            ) from None
        except LogoError:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            # Truncated data, bad checksums, an impossible header: Pillow's own words.
            raise LogoError(
                f"the {fmt} image cannot be read ({exc})", code="logo_unreadable"
            ) from None


def _too_many_pixels(width: int, height: int) -> LogoError:
    return LogoError(
        f"the image is {width} x {height} pixels; a logo may have at most {MAX_PIXELS:,}",
        code="logo_too_many_pixels",
    )


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image holding ``image``'s pixels and nothing else (no info, no profile)."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    rgb = image.convert("RGBA" if has_alpha else "RGB")
    return Image.frombytes(rgb.mode, rgb.size, rgb.tobytes())


def _square(image: Image.Image) -> Image.Image:
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side))


def logo_variants(data: bytes) -> Logo:
    """Check an upload and make its square WebP variants (``SIZES``). LogoError names
    what is wrong: too large, not PNG/JPEG/WebP, too many pixels, unreadable."""
    if len(data) > MAX_BYTES:
        raise LogoError(
            f"the logo is {len(data):,} bytes; at most {MAX_BYTES:,}",
            code="logo_too_large",
            status=413,
        )
    if not data:
        raise LogoError("the body is empty; send the image's bytes", code="logo_missing")
    fmt = sniff(data)
    if fmt is None:
        raise LogoError(
            "the file is not a PNG, JPEG or WebP image (judged by its content)",
            code="logo_unsupported_type",
            status=415,
        )
    square = _square(_pixels_only(_decoded(data, fmt)))
    variants = {}
    for side in SIZES:
        resized = square.resize((side, side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        resized.save(out, format="WEBP", quality=WEBP_QUALITY, method=4)
        variants[side] = out.getvalue()
    return Logo(sha256=hashlib.sha256(data).hexdigest(), variants=variants)
