"""Reads of the tenancy tables."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import connection
from django.db.models import QuerySet

from config.cache import MISS, TTLCache
from config.encryption import decrypt
from config.errors import ServiceError
from tenancy.models import Bot, ChatBinding, Tenant

logger = logging.getLogger(__name__)

# tenant pk -> its active bots with their tokens: read on every authenticated request.
# Changes made here forget it on commit (tenancy.services); other processes see them
# within the TTL.
_TOKEN_CACHE_SECONDS = 30.0
BOT_TOKENS: TTLCache[int, list[tuple[int, str]]] = TTLCache(
    "tenancy.bot_tokens", ttl=_TOKEN_CACHE_SECONDS, maxsize=10_000
)


def tenant_list(*, status: str | None = None) -> QuerySet[Tenant]:
    qs = Tenant.all_objects.exclude(schema_name="public").prefetch_related("domains")
    return qs.filter(status=status) if status else qs


def community_check(tenant: Tenant | None, *, what: str = "this belongs") -> Tenant:
    """``tenant`` if it is a community; the platform's own (public) tenant has no community
    data: 404 ``not_a_community``."""
    if tenant is None or getattr(tenant, "schema_name", "public") == "public":
        raise ServiceError(
            f"{what} to a community; use the community's own domain",
            code="not_a_community",
            status=404,
        )
    return tenant


def group_not_found(*, chat_id: int) -> ServiceError:
    """The 404 for a chat that is no bound group of this community (never bound, unbound,
    or another tenant's: the answer does not tell them apart). Raised by the bound-group
    selectors (``community.selectors.bound_group_get``,
    ``notifications.selectors.bound_group_binding_get``)."""
    return ServiceError(
        f"no group with chat id {chat_id} is bound to this community",
        code="group_not_found",
        status=404,
    )


def tenant_get(*, slug: str, include_deleted: bool = False) -> Tenant | None:
    """The tenant with ``slug``. A deleted tenant (its row kept as its audit trail's
    subject) only with ``include_deleted``: nothing else should act on it. Slugs are never
    reused, so there is at most one."""
    manager = Tenant.all_objects if include_deleted else Tenant.objects
    return manager.filter(slug=slug).first()


def tenant_for_domain(*, domain: str) -> Tenant | None:
    """The tenant serving ``domain``; never a deleted one (deleting removes its domains)."""
    return Tenant.objects.filter(domains__domain=domain).first()


def _token_read(*, bot_id: int, tenant_id: int, encrypted: str) -> str:
    """The bot's token, or "" when none is stored or it cannot be decrypted with the
    configured key (rotated without re-encrypting, corrupted): then the bot stays known by
    its id, no caller gets a token for it, and the error is logged without the ciphertext."""
    if not encrypted:
        return ""
    try:
        return decrypt(encrypted)
    except ValueError:
        logger.error(
            "tenancy.bot_token_unreadable",
            extra={"bot_id": bot_id, "tenant_id": tenant_id, "key": "FIELD_ENCRYPTION_KEY"},
        )
        return ""


def tenant_bots(*, tenant: Tenant) -> list[tuple[int, str]]:
    """(bot id, decrypted token or "") of the tenant's active bots; "" for a bot whose
    token is not stored or cannot be decrypted (initData for it is then checked by
    Telegram's signature only). Cached briefly in memory: this runs on every
    authenticated request."""
    cached = BOT_TOKENS.get(tenant.pk)
    if cached is not MISS:
        return cached
    read_at = BOT_TOKENS.clock()
    bots = [
        (bot_id, _token_read(bot_id=bot_id, tenant_id=tenant.pk, encrypted=token))
        for bot_id, token in Bot.objects.filter(tenant=tenant, is_active=True).values_list(
            "telegram_id", "token_encrypted"
        )
    ]
    BOT_TOKENS.set(tenant.pk, bots, read_at=read_at)
    return bots


def tenant_bots_forget(*, tenant_id: int | None = None) -> None:
    if tenant_id is None:
        BOT_TOKENS.clear()
    else:
        BOT_TOKENS.forget(tenant_id)


def chat_tenant(*, chat_id: int) -> Tenant | None:
    binding = ChatBinding.objects.select_related("tenant").filter(chat_id=chat_id).first()
    return binding.tenant if binding else None


def chat_tenant_for_bot(*, chat_id: int, bot_id: int) -> Tenant | None:
    """The tenant of ``chat_id`` as far as bot ``bot_id`` is concerned: only a binding
    made through that bot, or through none recorded (the platform bot, configured by
    its token, has no Bot row). A group bound through a community's own bot is not the
    platform bot's to serve, though the platform bot may sit in the same chat."""
    binding = ChatBinding.objects.select_related("tenant", "bot").filter(chat_id=chat_id).first()
    if binding is None or (binding.bot is not None and binding.bot.telegram_id != bot_id):
        return None
    return binding.tenant


def chat_binding_get(*, tenant: Tenant, chat_id: int) -> ChatBinding | None:
    """The tenant's binding of ``chat_id`` (with its bot), None if unbound or another's."""
    return ChatBinding.objects.select_related("bot").filter(tenant=tenant, chat_id=chat_id).first()


def bot_tenant(*, bot_id: int) -> Tenant | None:
    bot = Bot.objects.select_related("tenant").filter(telegram_id=bot_id).first()
    return bot.tenant if bot else None


def bot_tokens(
    *,
    bot_ids: list[int] | None = None,
    placement: str | None = None,
    keep: Callable[[int], bool] | None = None,
) -> list[tuple[int, str, Tenant]]:
    """(bot id, decrypted token, tenant) of every active bot with a token whose tenant is
    active (the public tenant's platform bot included), optionally only ``bot_ids``, only
    bots of one ``placement`` (``Bot.Placement``), and only those whose id ``keep``
    accepts (asked before decrypting: a runtime shard reads its own share): the bots a
    runtime hosts. The token is "" when it cannot be decrypted (the runtime skips that bot
    and says so). Tokens stay in memory only."""
    qs = (
        Bot.objects.select_related("tenant")
        .filter(is_active=True, tenant__status=Tenant.Status.ACTIVE)
        .exclude(token_encrypted="")
        .order_by("telegram_id")
    )
    if bot_ids is not None:
        qs = qs.filter(telegram_id__in=bot_ids)
    if placement is not None:
        qs = qs.filter(placement=placement)
    return [
        (
            bot.telegram_id,
            _token_read(
                bot_id=bot.telegram_id, tenant_id=bot.tenant_id, encrypted=bot.token_encrypted
            ),
            bot.tenant,
        )
        for bot in qs
        if keep is None or keep(bot.telegram_id)
    ]


def bot_placement(*, bot_id: int) -> str | None:
    """Where the bot runs (``Bot.Placement``), None for a bot with no row (the platform
    bot configured by its token alone)."""
    return Bot.objects.filter(telegram_id=bot_id).values_list("placement", flat=True).first()


def tenant_schemas_live(*, schema_names: list[str]) -> set[str]:
    """Which of ``schema_names`` still take writes: the schema exists and its tenant is
    active (the public schema included). Writers behind (botruntime.batching) drop what
    they held for the others."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.schema_name FROM {Tenant._meta.db_table} t"  # noqa: S608
            " JOIN pg_namespace n ON n.nspname = t.schema_name"
            " WHERE t.status = %s AND t.schema_name = ANY(%s)",
            [Tenant.Status.ACTIVE, list(schema_names)],
        )
        return {row[0] for row in cursor.fetchall()}


def tenant_primary_domain(*, tenant: Tenant) -> str | None:
    """The tenant's primary domain (its Mini App is served there)."""
    return tenant.domains.order_by("-is_primary", "id").values_list("domain", flat=True).first()


def tenant_bot_username(*, tenant: Tenant) -> str:
    """The username (without the @) of the bot people reach ``tenant`` through: its own
    bot, else the platform's shared bot; "" when not known."""
    bots = Bot.objects.filter(tenant=tenant, is_active=True)
    if not bots.exists():
        bots = Bot.objects.filter(tenant__schema_name="public", is_active=True)
    username = bots.exclude(username="").order_by("id").values_list("username", flat=True)
    return username.first() or ""


def bot_get(*, tenant: Tenant, bot_id: int, active_only: bool = True) -> Bot | None:
    """The tenant's bot with Telegram id ``bot_id``, active unless ``active_only`` is
    off (None if another tenant's)."""
    bots = Bot.objects.filter(tenant=tenant, telegram_id=bot_id)
    return (bots.filter(is_active=True) if active_only else bots).first()
