"""Bots to deploy in the provisioner's tests."""

from __future__ import annotations

from typing import Any

from provisioner.spec import BotSpec, Placement

PARAMETERS: dict[str, dict[str, Any]] = {
    "white_label": {"brand_name": "Acme"},
    "moderation": {"group_name": "Acme chat"},
    "task": {
        "campaign_name": "Acme",
        "tasks": [{"title": "Follow", "url": "https://x.com/acme", "points": 10}],
    },
    "airdrop": {"project_name": "Acme", "token_symbol": "ACM", "max_claims": 100},
}


# Valid parameters of each kind with optional fields set (the API's and the schema's tests).
VALID: dict[str, dict[str, Any]] = {
    "white_label": {"brand_name": "Acme", "website": "https://acme.example"},
    "moderation": {"group_name": "Acme chat", "banned_words": ["scam"], "links": "block"},
    "task": {
        "campaign_name": "Launch",
        "tasks": [{"title": "Follow", "url": "https://x.com/acme", "points": 10}],
        "ends_at": "2026-12-31T23:59:00Z",
    },
    "airdrop": {
        "project_name": "Acme",
        "token_symbol": "ACME",
        "amount_per_claim": "12.5",
        "max_claims": 1000,
        "chain": "ton",
    },
}


def bot_spec(
    *,
    kind: str = "moderation",
    bot_id: int = 700001,
    tenant: str = "acme",
    webhook_url: str | None = None,
    placement: Placement = Placement.ISOLATED,
    parameters: dict[str, Any] | None = None,
    token: str = "700001:AAHsecret-token",
) -> BotSpec:
    return BotSpec(
        tenant=tenant,
        tenant_id=7,
        bot_id=bot_id,
        kind=kind,
        parameters=PARAMETERS[kind] if parameters is None else parameters,
        placement=placement,
        token=token,
        username=f"acme_{kind}_bot",
        texts={"welcome": "Hello!"},
        webhook_url=webhook_url,
    )
