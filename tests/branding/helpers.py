"""What the branding tests share: images made with Pillow for the logo tests (and a
hand-made PNG header for a bomb), a recording provisioner backend
(``PROVISIONER_BACKEND=tests.branding.helpers:recording_backend``) and the tokens of
custom bots on the sandbox Telegram."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from provisioner.spec import BotSpec, Rollout, Status

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


BACKEND_SETTING = "tests.branding.helpers:recording_backend"


def custom_token(n: int, secret: str = "custom") -> str:
    """A token of bot 800000000+n (``secret`` varies it: a rotated token, same bot)."""
    return f"{800000000 + n}:AAH{n:05d}{secret:-<10}-for-bragabot-suite-xx"


@dataclass
class RecordingBackend:
    """Implements provisioner.spec.Backend: records each call and answers what the test
    set (``apply_answer``, ``status_answer``, ``pause_answer``, ``remove_answer``);
    ``fail_with`` makes every call raise it."""

    name: str = "recording"
    calls: list[tuple[str, Any]] = field(default_factory=list)
    apply_answer: Rollout = field(default_factory=lambda: Rollout(Status.DEPLOYING))
    status_answer: Rollout = field(default_factory=lambda: Rollout(Status.RUNNING))
    pause_answer: Rollout = field(default_factory=lambda: Rollout(Status.PAUSED))
    remove_answer: Rollout = field(default_factory=lambda: Rollout(Status.PENDING))
    fail_with: Exception | None = None

    def _answer(self, call: str, argument: Any, answer: Rollout) -> Rollout:
        self.calls.append((call, argument))
        if self.fail_with is not None:
            raise self.fail_with
        return answer

    def apply(self, spec: BotSpec) -> Rollout:
        return self._answer("apply", spec, self.apply_answer)

    def pause(self, *, tenant: str, bot_id: int) -> Rollout:
        return self._answer("pause", (tenant, bot_id), self.pause_answer)

    def remove(self, *, tenant: str, bot_id: int) -> Rollout:
        return self._answer("remove", (tenant, bot_id), self.remove_answer)

    def status(self, *, tenant: str, bot_id: int) -> Rollout:
        return self._answer("status", (tenant, bot_id), self.status_answer)

    def specs(self) -> list[BotSpec]:
        return [argument for call, argument in self.calls if call == "apply"]

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]  # back to a fresh recorder, same object


RECORDING = RecordingBackend()


def recording_backend() -> RecordingBackend:
    return RECORDING


# The local backend a test configures (``PROVISIONER_BACKEND=tests.branding.helpers:
# local_backend_of_test``): its children reach the test database and the sandbox.
LOCAL: list[Any] = []


def local_backend_of_test() -> Any:
    return LOCAL[0]
