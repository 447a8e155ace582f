"""Bot token onboarding: a token is checked with Telegram (getMe) before anything is
stored, a bot already bound to another tenant is refused without naming that tenant,
and the token is kept encrypted (``tenancy.services.bot_register``). The token is never
logged, returned or put in an error message.

Telegram is asked first, the platform's bindings second: only someone holding a token
Telegram accepts learns that its bot is taken."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from telegram import error as tg_error

from botruntime.outgoing import bot_session, run_sync
from config.errors import ServiceError
from history.services import Actor
from tenancy.models import Bot, Tenant
from tenancy.selectors import bot_tenant
from tenancy.services import bot_placement_set, bot_register, bot_set_active, bot_token_parse

logger = logging.getLogger(__name__)

INVALID_TOKEN = "Telegram does not accept this token"


@dataclass(frozen=True)
class BotIdentity:
    """Who a token belongs to, as Telegram's getMe says."""

    bot_id: int
    username: str


async def _get_me(token: str) -> BotIdentity:
    async with bot_session(token) as bot:  # initialize() is getMe
        return BotIdentity(bot_id=bot.bot.id, username=bot.bot.username or "")


def token_identity(*, token: str) -> BotIdentity:
    """The bot ``token`` opens, per Telegram (getMe on the configured API base)."""
    bot_id = bot_token_parse(token)
    try:
        identity = run_sync(_get_me(token))
    except tg_error.InvalidToken as exc:  # 401/404 from Telegram; its text repeats the token
        raise ServiceError(INVALID_TOKEN, code="invalid_token") from exc
    except tg_error.NetworkError as exc:
        logger.warning(
            "branding.getme_failed", extra={"bot_id": bot_id, "error": type(exc).__name__}
        )
        raise ServiceError(
            "Telegram could not be reached; try again shortly",
            code="telegram_unavailable",
            status=503,
        ) from exc
    except tg_error.TelegramError as exc:
        logger.warning(
            "branding.getme_refused", extra={"bot_id": bot_id, "error": type(exc).__name__}
        )
        raise ServiceError(INVALID_TOKEN, code="invalid_token") from exc
    if identity.bot_id != bot_id:  # the token's prefix is not the bot Telegram says it is
        raise ServiceError(INVALID_TOKEN, code="invalid_token")
    return identity


def bot_taken_check(*, tenant: Tenant, bot_id: int) -> None:
    """Refuse a bot another tenant has (which tenant stays unsaid)."""
    owner = bot_tenant(bot_id=bot_id)
    if owner is not None and owner.pk != tenant.pk:
        raise ServiceError(
            "this bot is already registered on the platform by another community",
            code="bot_taken",
            status=409,
        )


def placement_for(*, tenant: Tenant) -> str:
    """Isolated for the plans in BOT_ISOLATED_PLANS, pooled for the others."""
    isolated = tenant.plan in settings.BOT_ISOLATED_PLANS
    return Bot.Placement.ISOLATED if isolated else Bot.Placement.POOLED


def bot_bind(*, tenant: Tenant, token: str, identity: BotIdentity, actor: Actor) -> Bot:
    """Store the checked ``token`` (encrypted) for ``tenant``, active, placed by plan. In
    the caller's transaction; a concurrent binding by another tenant is refused."""
    bot_taken_check(tenant=tenant, bot_id=identity.bot_id)
    with transaction.atomic():
        try:
            bot = bot_register(tenant=tenant, token=token, username=identity.username, actor=actor)
        except ServiceError as exc:
            if exc.code != "duplicate_bot":
                raise
            # Another tenant bound it between our check and the insert.
            bot_taken_check(tenant=tenant, bot_id=identity.bot_id)
            raise
        if not bot.is_active:
            bot = bot_set_active(bot=bot, is_active=True, actor=actor)
        bot = bot_placement_set(bot=bot, placement=placement_for(tenant=tenant), actor=actor)
    return bot


def bot_onboard(*, tenant: Tenant, token: str, actor: Actor) -> Bot:
    """Check ``token`` with Telegram and bind its bot to ``tenant``: 400 ``invalid_token``
    when Telegram refuses it, 409 ``bot_taken`` when another tenant has the bot. The
    tenant's own bot (``tenant create --bot-token``) is simply taken up again."""
    token = (token or "").strip()
    identity = token_identity(token=token)
    bot_taken_check(tenant=tenant, bot_id=identity.bot_id)
    bot = bot_bind(tenant=tenant, token=token, identity=identity, actor=actor)
    logger.info("branding.bot_onboarded", extra={"tenant": tenant.slug, "bot_id": bot.telegram_id})
    return bot
