"""What a community's bots say: one function, ``brand_message``, renders a message of a
bot kind exactly as the bot sends it (Telegram HTML) from the brand, the community's
overrides and the bot's parameters. The preview endpoint and the bots' replies (the core
/start and /help, through ``accounts.texts``) both call it.

The brand, its overrides and its custom bots are read once per schema and kept for
``TEXTS_TTL`` seconds in ``TEXTS``; every save or delete of those rows in this process
forgets the schema's entry (``receivers``), other processes see it within the TTL."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django_tenants.utils import schema_context

from branding.models import Brand, CustomBot, MessageText
from branding.selectors import custom_bot_get
from config.cache import MISS, TTLCache
from config.errors import ServiceError
from provisioner.kinds import DEFAULT_LANGUAGE, Kind, KindNotFound, kind_get
from provisioner.messages import MessageError, message_render
from provisioner.parameters import ParameterError, parameters_validate
from tenancy.connection import schema_connection

if TYPE_CHECKING:
    from tenancy.models import Tenant

logger = logging.getLogger(__name__)

TEXTS_TTL = 30.0
WHITE_LABEL = "white_label"
# Values a preview shows for what only a real conversation knows (who writes, which
# raid), and for a kind's parameters when no bot of that kind is named.
SAMPLES: dict[str, Any] = {
    "first_name": "Alex",
    "title": "Sample raid",
    "reward": "100 USDT",
    "count": 1,
    "points": 10,
    "group_name": "Sample group",
    "links": "admins_only",
    "warnings_before_mute": 3,
    "mute_minutes": 60,
    "campaign_name": "Sample campaign",
    "tasks": [{"title": "Follow us on X", "url": "https://x.com/", "points": 10}],
    "project_name": "Sample project",
    "token_symbol": "TOKEN",
    "amount_per_claim": 10,
}


@dataclass(frozen=True)
class BrandTexts:
    """A schema's brand and overrides, as the renderer needs them."""

    has_brand: bool
    brand_name: str
    overrides: dict[tuple[str, str, str], str] = field(default_factory=dict)  # kind, lang, key
    bots: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # id: kind, params


TEXTS: TTLCache[str, BrandTexts] = TTLCache("branding.texts", ttl=TEXTS_TTL, maxsize=10_000)


def brand_texts(*, tenant: Tenant) -> BrandTexts:
    """The brand state of ``tenant`` (read in its schema, cached per schema)."""
    cached = TEXTS.get(tenant.schema_name)
    if cached is not MISS:
        return cached
    read_at = TEXTS.clock()
    with schema_context(tenant.schema_name):
        brand = Brand.objects.filter(pk=Brand.SINGLETON).first()
        overrides = {
            (kind, language, key): text
            for kind, language, key, text in MessageText.objects.values_list(
                "kind", "language", "key", "text"
            )
        }
        bots = {
            telegram_id: (kind, parameters)
            for telegram_id, kind, parameters in CustomBot.objects.values_list(
                "telegram_id", "kind", "parameters"
            )
        }
    found = BrandTexts(
        has_brand=brand is not None,
        brand_name=(brand.display_name if brand else "") or tenant.name,
        overrides=overrides,
        bots=bots,
    )
    TEXTS.set(tenant.schema_name, found, read_at=read_at)
    return found


def brand_texts_forget(*, schema_name: str | None = None) -> None:
    if schema_name is None:
        TEXTS.clear()
    else:
        TEXTS.forget(schema_name)


def brand_texts_forget_current() -> None:
    """Forget the entry of the schema this connection works in: now (a reader in between
    reads the old rows and may cache them) and again on commit."""
    schema_name = schema_connection.schema_name
    brand_texts_forget(schema_name=schema_name)
    transaction.on_commit(lambda: brand_texts_forget(schema_name=schema_name))


def language_of(language_code: str) -> str:
    """Telegram's ``language_code`` ("en", "pt-br") as the two letters texts are kept by."""
    return (language_code or DEFAULT_LANGUAGE)[:2].lower()


def _language(state: BrandTexts, kind: Kind, key: str, language: str) -> str:
    """The language the message is rendered in: the one asked for when the brand or the
    kind has a text in it, else English (as the kind falls back)."""
    if (kind.name, language, key) in state.overrides or language in kind.languages:
        return language
    return DEFAULT_LANGUAGE


def brand_message(
    *,
    tenant: Tenant,
    kind: Kind,
    key: str,
    language: str,
    values: Mapping[str, object],
    parameters: Mapping[str, Any] | None = None,
    samples: bool = False,
) -> str:
    """Message ``key`` of ``kind`` as the bot sends it: the community's override in the
    language if it has one, else the kind's template; filled with the bot's
    ``parameters``, the brand's name (white-label bots), then ``values`` (what the
    conversation knows), everything escaped. ``samples`` fills what is still unknown with
    sample values (a preview). Raises provisioner's MessageError."""
    state = brand_texts(tenant=tenant)
    language = _language(state, kind, key, language_of(language))
    filled: dict[str, object] = dict.fromkeys(kind.variables[key])
    if kind.name == WHITE_LABEL:
        filled["brand_name"] = state.brand_name
    known = set(kind.parameters.get("properties", {}))
    for name, value in (parameters or {}).items():
        if name in filled:
            filled[name] = value
    for name in filled:
        if samples and filled[name] is None and (name not in known or not parameters):
            filled[name] = SAMPLES.get(name)
    filled.update({k: v for k, v in values.items() if k in filled})
    override = state.overrides.get((kind.name, language, key))
    return message_render(kind=kind, key=key, language=language, values=filled, override=override)


def bot_text(
    *, tenant: Tenant, bot_id: int, key: str, language: str, values: Mapping[str, object]
) -> str | None:
    """accounts' text provider: the reply of a branded bot. A custom bot speaks its own
    kind with its parameters; the community's own bot speaks the white-label kind once
    the community has a brand. None (the built-in text) for the platform's tenant, a
    community with no brand, or a message its kind does not have."""
    if tenant.is_public:
        return None
    state = brand_texts(tenant=tenant)
    kind_name, parameters = state.bots.get(bot_id, (WHITE_LABEL, None))
    if parameters is None and not state.has_brand:
        return None
    try:
        kind = kind_get(kind_name)
    except KindNotFound:
        return None
    if key not in kind.variables:
        return None
    try:
        return brand_message(
            tenant=tenant,
            kind=kind,
            key=key,
            language=language,
            values=values,
            parameters=parameters,
        )
    except MessageError as exc:  # e.g. a text grown past Telegram's limit once filled
        logger.warning(
            "branding.text_unusable",
            extra={"schema": tenant.schema_name, "bot_id": bot_id, "key": key, "error": str(exc)},
        )
        return None


# Telegram's language_code as texts are kept: two lower-case letters (ISO 639-1).
LANGUAGE = re.compile(r"^[a-z]{2}$")


def message_kind(*, kind: str, key: str | None = None, language: str | None = None) -> Kind:
    """The kind named ``kind`` (404 ``kind_not_found``), having message ``key`` (404
    ``message_not_found``), with ``language`` a two-letter code (400)."""
    try:
        found = kind_get(kind)
    except KindNotFound as exc:
        raise ServiceError(str(exc), code="kind_not_found", status=404) from None
    if key is not None and key not in found.variables:
        raise ServiceError(
            f"{kind} has no message {key!r}; messages: {', '.join(sorted(found.variables))}",
            code="message_not_found",
            status=404,
        )
    if language is not None and not LANGUAGE.match(language):
        raise ServiceError(
            "language must be a two-letter code such as en or es",
            code="invalid_language",
        )
    return found


# A preview takes at most this many values for the message's variables.
MAX_VALUES = 20


def message_preview(
    *,
    tenant: Tenant,
    key: str,
    language: str,
    values: Mapping[str, object],
    kind_name: str | None = None,
    bot_id: int | None = None,
) -> tuple[Kind, str]:
    """(kind, text): message ``key`` exactly as the bot sends it, for the kind named or
    the community's custom bot ``bot_id`` (its kind and parameters); what a conversation
    would know comes from ``values``, else from samples."""
    parameters = None
    if bot_id is not None:
        bot = custom_bot_get(tenant=tenant, bot_id=bot_id)
        if bot is None:
            raise ServiceError(
                f"this community has no custom bot {bot_id}", code="bot_not_found", status=404
            )
        if (kind_name or bot.kind) != bot.kind:
            raise ServiceError(
                f"bot {bot.telegram_id} is a {bot.kind} bot, not {kind_name}",
                code="kind_mismatch",
            )
        kind_name, parameters = bot.kind, bot.parameters
    kind = message_kind(kind=kind_name or WHITE_LABEL, key=key, language=language)
    if parameters is not None:
        try:
            parameters = parameters_validate(kind=kind, parameters=parameters)
        except ParameterError:
            parameters = dict(parameters)  # render what it has; the bots API flags it
    unknown = sorted(set(values) - set(kind.variables[key]))
    if len(values) > MAX_VALUES or unknown:
        allowed = ", ".join(kind.variables[key]) or "none"
        raise ServiceError(
            f"unknown variable {unknown[0]!r}; this message has: {allowed}"
            if unknown
            else f"at most {MAX_VALUES} values",
            code="unknown_variable",
        )
    try:
        text = brand_message(
            tenant=tenant,
            kind=kind,
            key=key,
            language=language,
            values=values,
            parameters=parameters,
            samples=True,
        )
    except MessageError as exc:
        raise ServiceError(str(exc), code="invalid_text") from None
    return kind, text
