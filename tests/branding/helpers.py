"""A recording provisioner backend (``PROVISIONER_BACKEND=tests.branding.helpers:
recording_backend``) and the tokens of custom bots on the sandbox Telegram."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provisioner.spec import BotSpec, Rollout, Status

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
