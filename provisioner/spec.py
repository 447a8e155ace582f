"""What the provisioner deploys and what it reports: plain values, no app's models."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Placement(StrEnum):
    POOLED = "pooled"  # hosted by the shared runtime shards
    ISOLATED = "isolated"  # a workload of its own (runbots --bot ID)


class Status(StrEnum):
    PENDING = "pending"
    DEPLOYING = "deploying"
    RUNNING = "running"
    FAILED = "failed"
    PAUSED = "paused"


@dataclass(frozen=True)
class BotSpec:
    """One bot to run: whose (tenant), which (Telegram id), what (kind and parameters)
    and where (placement). ``texts`` are the bot's rendered messages (its configuration
    as the runtime reads it); ``webhook_url`` set means webhook mode."""

    tenant: str  # the tenant's slug
    tenant_id: int
    bot_id: int
    kind: str
    parameters: Mapping[str, Any]
    placement: Placement
    token: str = field(repr=False)
    username: str = ""
    language: str = "en"
    texts: Mapping[str, str] = field(default_factory=dict)
    webhook_url: str | None = None

    def config(self) -> dict[str, Any]:
        """The configuration the bot's workload receives (no secret in it)."""
        return {
            "bot_id": self.bot_id,
            "username": self.username,
            "tenant": self.tenant,
            "kind": self.kind,
            "language": self.language,
            "parameters": dict(self.parameters),
            "texts": dict(self.texts),
        }

    def config_sha256(self) -> str:
        """A digest of the configuration and token: equal digests, nothing to redeploy."""
        blob = json.dumps(
            [self.config(), self.token, self.placement, self.webhook_url], sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Rollout:
    """Where a bot's deployment stands, as the backend reads it back."""

    status: Status
    reason: str = ""
    writes: int = 0  # requests that changed something (0 on a re-apply with no change)


class Backend(Protocol):
    """Runs bots. ``apply`` is idempotent: it converges on ``spec`` (and prunes what is no
    longer desired for this bot); ``pause`` stops the bot but keeps its configuration;
    ``remove`` deletes everything the bot had; ``status`` reads where it stands."""

    name: str

    def apply(self, spec: BotSpec) -> Rollout: ...

    def pause(self, *, tenant: str, bot_id: int) -> Rollout: ...

    def remove(self, *, tenant: str, bot_id: int) -> Rollout: ...

    def status(self, *, tenant: str, bot_id: int) -> Rollout: ...
