"""Roles and capabilities: what each role may do in a tenant by default."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"  # the client brand
    ADMIN = "admin"  # a group admin
    MODERATOR = "moderator"
    MEMBER = "member"


class Capability(StrEnum):
    MANAGE_SETTINGS = "manage_settings"
    MANAGE_FUNDS = "manage_funds"
    MANAGE_RAIDS = "manage_raids"
    MANAGE_BOTS = "manage_bots"
    MODERATE = "moderate"
    VIEW_ANALYTICS = "view_analytics"
    VIEW_AUDIT = "view_audit"


ALL_CAPABILITIES = frozenset(Capability)

DEFAULT_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.OWNER: ALL_CAPABILITIES,
    Role.ADMIN: ALL_CAPABILITIES - {Capability.MANAGE_BOTS},
    Role.MODERATOR: frozenset({Capability.MODERATE, Capability.VIEW_ANALYTICS}),
    Role.MEMBER: frozenset(),
}

# Higher rank wins when a user is, e.g., both a Telegram admin and the brand owner.
RANK = {Role.MEMBER: 0, Role.MODERATOR: 1, Role.ADMIN: 2, Role.OWNER: 3}


def effective_capabilities(
    role: Role | str, granted: list[str] | None = None, revoked: list[str] | None = None
) -> frozenset[Capability]:
    caps = set(DEFAULT_CAPABILITIES[Role(role)])
    caps |= {Capability(c) for c in granted or []}
    caps -= {Capability(c) for c in revoked or []}
    return frozenset(caps)
