"""Tenant lifecycle and bot/chat bindings. Every change is audited in the same transaction."""

from __future__ import annotations

import itertools
import logging
import re
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction

import history.services as history
from config.encryption import encrypt
from config.errors import ServiceError
from history.services import SYSTEM, Actor
from tenancy.middleware import host_cache_clear
from tenancy.models import Bot, ChatBinding, Domain, Tenant
from tenancy.schema_template import schema_create_from_template
from tenancy.selectors import tenant_bots_forget, tenant_for_domain
from tenancy.signals import tenant_created

logger = logging.getLogger(__name__)

SLUG = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
RESERVED_SLUGS = {"public", "www", "api", "admin", "static", "template", "platform", "pg"}
DOMAIN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)
BOT_TOKEN = re.compile(r"^(\d{1,20}):([A-Za-z0-9_-]{30,64})$")


def schema_name_for(slug: str) -> str:
    return "t_" + slug.replace("-", "_")


def bot_token_parse(token: str) -> int:
    """Return the bot's Telegram id from a token, or raise ServiceError."""
    match = BOT_TOKEN.match(token or "")
    if not match:
        raise ServiceError(
            "bot token must look like 123456789:AA... (the id, a colon, 30-64 characters)",
            code="invalid_bot_token",
        )
    return int(match.group(1))


def _validate_new_tenant(*, slug: str, name: str, kind: str, domain: str) -> None:
    if not SLUG.match(slug):
        raise ServiceError(
            "slug must be 3-40 characters: lowercase letters, digits and hyphens, "
            "starting with a letter",
            code="invalid_slug",
        )
    if slug in RESERVED_SLUGS:
        raise ServiceError(f"slug {slug!r} is reserved", code="invalid_slug")
    if not name.strip():
        raise ServiceError("name must not be empty", code="invalid_name")
    if kind not in Tenant.Kind.values:
        raise ServiceError(
            f"kind must be one of {', '.join(Tenant.Kind.values)}", code="invalid_kind"
        )
    if not DOMAIN.match(domain):
        raise ServiceError(f"{domain!r} is not a valid domain name", code="invalid_domain")
    if Tenant.all_objects.filter(slug=slug).exists():
        raise ServiceError(f"a tenant with slug {slug!r} already exists", code="duplicate_slug")
    if Domain.objects.filter(domain=domain).exists():
        raise ServiceError(f"domain {domain!r} is already in use", code="duplicate_domain")


def owner_telegram_id_check(owner_telegram_id: int | None) -> None:
    """Refuse an owner id that cannot be a Telegram user's (None: nobody named)."""
    if owner_telegram_id is not None and (
        isinstance(owner_telegram_id, bool)
        or not isinstance(owner_telegram_id, int)
        or owner_telegram_id <= 0
    ):
        raise ServiceError(
            "the owner's Telegram id is a positive number (a user id, not a chat id)",
            code="invalid_owner",
        )


def tenant_create(
    *,
    slug: str,
    name: str,
    kind: str = Tenant.Kind.GROUP,
    domain: str,
    owner_telegram_id: int | None = None,
    bot_token: str | None = None,
    plan: str = "free",
    actor: Actor = SYSTEM,
) -> Tenant:
    """Create a tenant, its schema (from the template), its domain, its first owner and
    optionally its bot. The owner is the only way into a new community: adding its bot
    to a group binds only for someone who already manages it. Without an owner nobody can
    connect a group until staff name one (``accounts.services.tenant_owner_set``).
    Owners are accounts' memberships: ``tenancy.signals.tenant_created``, sent in this
    transaction, has accounts name the owner."""
    slug, domain = slug.strip().lower(), domain.strip().lower()
    _validate_new_tenant(slug=slug, name=name, kind=kind, domain=domain)
    owner_telegram_id_check(owner_telegram_id)
    bot_id = bot_token_parse(bot_token) if bot_token else None
    if bot_id is not None and Bot.objects.filter(telegram_id=bot_id).exists():
        raise ServiceError(f"bot {bot_id} already serves another tenant", code="duplicate_bot")
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(
                schema_name=schema_name_for(slug),
                slug=slug,
                name=name.strip(),
                kind=kind,
                plan=plan,
            )
            schema_create_from_template(tenant.schema_name)
            Domain.objects.create(tenant=tenant, domain=domain, is_primary=True)
            if bot_token:
                bot_register(tenant=tenant, token=bot_token, actor=actor, audit=False)
            history.record(
                action="tenant.created",
                actor=actor,
                tenant=tenant,
                target=("tenant", tenant.pk),
                data={
                    "slug": slug,
                    "kind": kind,
                    "domain": domain,
                    "bot_id": bot_id,
                    "owner_telegram_id": owner_telegram_id,
                },
            )
            tenant_created.send(
                sender=Tenant, tenant=tenant, owner_telegram_id=owner_telegram_id, actor=actor
            )
    except IntegrityError as exc:
        # A concurrent creation won the unique constraint between our check and insert.
        raise ServiceError(
            f"tenant {slug!r} or domain {domain!r} already exists", code="duplicate_slug"
        ) from exc
    logger.info("tenant.created", extra={"tenant": slug, "kind": kind})
    return tenant


def bot_register(
    *, tenant: Tenant, token: str, username: str = "", actor: Actor = SYSTEM, audit: bool = True
) -> Bot:
    bot_id = bot_token_parse(token)
    bot, created = Bot.objects.get_or_create(
        telegram_id=bot_id,
        defaults={"tenant": tenant, "token_encrypted": encrypt(token), "username": username},
    )
    if not created and bot.tenant_id != tenant.pk:
        raise ServiceError(f"bot {bot_id} already serves another tenant", code="duplicate_bot")
    if not created:
        bot.token_encrypted = encrypt(token)
        bot.username = username or bot.username
        bot.save(update_fields=["token_encrypted", "username"])
    transaction.on_commit(lambda: tenant_bots_forget(tenant_id=tenant.pk))
    tenant_bots_forget(tenant_id=tenant.pk)
    bots_changed()
    if audit:
        history.record(
            action="bot.registered",
            actor=actor,
            tenant=tenant,
            target=("bot", bot_id),
            data={"username": username},
        )
    return bot


def _set_status(
    tenant: Tenant, status: str, action: str, actor: Actor, data: dict[str, Any]
) -> Tenant:
    with transaction.atomic():
        locked = Tenant.all_objects.select_for_update().get(pk=tenant.pk)
        previous = locked.status
        if previous == Tenant.Status.DELETED:
            raise ServiceError(f"tenant {locked.slug!r} is deleted", code="tenant_deleted")
        if previous == status:
            return locked
        locked.status = status
        locked.save(update_fields=["status"])
        history.record(
            action=action,
            actor=actor,
            tenant=locked,
            target=("tenant", locked.pk),
            data={"from": previous, **data},
        )
    transaction.on_commit(host_cache_clear)
    host_cache_clear()
    bots_changed()  # a suspended community's bots are released, a resumed one's hosted
    logger.info(action, extra={"tenant": locked.slug})
    return locked


def tenant_suspend(*, tenant: Tenant, reason: str = "", actor: Actor = SYSTEM) -> Tenant:
    return _set_status(
        tenant, Tenant.Status.SUSPENDED, "tenant.suspended", actor, {"reason": reason}
    )


def tenant_resume(*, tenant: Tenant, actor: Actor = SYSTEM) -> Tenant:
    return _set_status(tenant, Tenant.Status.ACTIVE, "tenant.resumed", actor, {})


def tenant_delete(*, tenant: Tenant, confirm: str, actor: Actor = SYSTEM) -> Tenant:
    """Delete a tenant: its schema (all its data) is dropped, its domains and bindings
    removed; the tenant row stays with status ``deleted`` so its audit trail keeps a
    subject. ``confirm`` must repeat the tenant's slug."""
    if confirm != tenant.slug:
        raise ServiceError(
            "deleting drops all of the tenant's data; "
            f"confirm by repeating its slug {tenant.slug!r}",
            code="confirmation_required",
        )
    if tenant.is_public:
        raise ServiceError("the public tenant cannot be deleted", code="invalid")
    with transaction.atomic():
        locked = Tenant.all_objects.select_for_update().get(pk=tenant.pk)
        if locked.status == Tenant.Status.DELETED:
            raise ServiceError(f"tenant {locked.slug!r} is already deleted", code="tenant_deleted")
        domains = list(locked.domains.values_list("domain", flat=True))
        locked.domains.all().delete()
        ChatBinding.objects.filter(tenant=locked).delete()
        Bot.objects.filter(tenant=locked).delete()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{locked.schema_name}" CASCADE')
        locked.status = Tenant.Status.DELETED
        locked.save(update_fields=["status"])
        history.record(
            action="tenant.deleted",
            actor=actor,
            tenant=locked,
            target=("tenant", locked.pk),
            data={"domains": domains},
        )
    host_cache_clear()
    logger.info("tenant.deleted", extra={"tenant": locked.slug})
    return locked


# ---- domains and bots, as staff change them (the Django admin) ------------------------
def domain_add(*, tenant: Tenant, domain: str, is_primary: bool = False, actor: Actor) -> Domain:
    """Serve ``tenant`` at one more host name as well."""
    domain = domain.strip().lower()
    if not DOMAIN.match(domain):
        raise ServiceError(f"{domain!r} is not a valid domain name", code="invalid_domain")
    if tenant.status == Tenant.Status.DELETED:
        raise ServiceError(f"tenant {tenant.slug!r} is deleted", code="tenant_deleted")
    try:
        with transaction.atomic():
            added = Domain.objects.create(tenant=tenant, domain=domain, is_primary=is_primary)
            history.record(
                action="domain.added",
                actor=actor,
                tenant=tenant,
                target=("domain", domain),
                data={"is_primary": added.is_primary},
            )
    except IntegrityError as exc:
        raise ServiceError(f"domain {domain!r} is already in use", code="duplicate_domain") from exc
    _hosts_changed()
    return added


def domain_set_primary(*, domain: Domain, actor: Actor) -> Domain:
    """Make ``domain`` its tenant's primary one (links and the Mini App URL use it)."""
    with transaction.atomic():
        locked = Domain.objects.select_for_update().get(pk=domain.pk)
        if not locked.is_primary:
            locked.is_primary = True
            locked.save()  # DomainMixin.save takes the flag from the others
            history.record(
                action="domain.primary_set",
                actor=actor,
                tenant=locked.tenant_id,
                target=("domain", locked.domain),
            )
    _hosts_changed()
    return locked


def domain_remove(*, domain: Domain, actor: Actor) -> None:
    """Stop serving a tenant at ``domain``; its primary domain stays until another is."""
    with transaction.atomic():
        locked = Domain.objects.select_for_update().get(pk=domain.pk)
        if locked.is_primary:
            raise ServiceError(
                "a tenant's primary domain cannot be removed; make another one primary first",
                code="primary_domain",
                status=409,
            )
        locked.delete()
        history.record(
            action="domain.removed",
            actor=actor,
            tenant=locked.tenant_id,
            target=("domain", locked.domain),
        )
    _hosts_changed()


def _hosts_changed() -> None:
    transaction.on_commit(host_cache_clear)
    host_cache_clear()


# PostgreSQL delivers a NOTIFY when its transaction commits and drops it on a rollback:
# the runtimes listening (botruntime.bot_changes) follow a committed change at once.
BOTS_CHANNEL = "bragabot_bots"


def bots_changed() -> None:
    """Tell the runtimes that which bots to host, or a bot's token, changed."""
    with connection.cursor() as cursor:
        cursor.execute(f"NOTIFY {BOTS_CHANNEL}")


def bot_set_active(*, bot: Bot, is_active: bool, actor: Actor) -> Bot:
    """An inactive bot neither authenticates Mini App users nor is hosted by a runtime."""
    with transaction.atomic():
        locked = Bot.objects.select_for_update().get(pk=bot.pk)
        if locked.is_active != is_active:
            locked.is_active = is_active
            locked.save(update_fields=["is_active"])
            history.record(
                action="bot.activated" if is_active else "bot.deactivated",
                actor=actor,
                tenant=locked.tenant_id,
                target=("bot", locked.telegram_id),
            )
    transaction.on_commit(lambda: tenant_bots_forget(tenant_id=locked.tenant_id))
    tenant_bots_forget(tenant_id=locked.tenant_id)
    bots_changed()
    return locked


def bot_placement_set(*, bot: Bot, placement: str, actor: Actor) -> Bot:
    """Where the bot runs: ``pooled`` on the shared runtime shards, or ``isolated`` in a
    workload of its own (the runtime shards then leave it alone)."""
    if placement not in Bot.Placement.values:
        raise ServiceError(
            f"placement must be one of {', '.join(Bot.Placement.values)}", code="invalid_placement"
        )
    with transaction.atomic():
        locked = Bot.objects.select_for_update().get(pk=bot.pk)
        if locked.placement != placement:
            previous = locked.placement
            locked.placement = placement
            locked.save(update_fields=["placement"])
            history.record(
                action="bot.placement_set",
                actor=actor,
                tenant=locked.tenant_id,
                target=("bot", locked.telegram_id),
                data={"from": previous, "to": placement},
            )
            bots_changed()
    return locked


def public_tenant_ensure(*, domain: str | None = None) -> Tenant:
    """The public tenant owns the platform's own domain and platform bot."""
    domain = domain or settings.PUBLIC_DOMAIN
    tenant, _ = Tenant.objects.get_or_create(
        schema_name="public",
        defaults={"slug": "public", "name": "Platform", "kind": Tenant.Kind.CLIENT},
    )
    Domain.objects.get_or_create(domain=domain, defaults={"tenant": tenant, "is_primary": True})
    return tenant


def demo_tenant_ensure(
    *,
    slug: str,
    name: str,
    domain: str,
    bot_token: str,
    bot_username: str = "",
    owner_telegram_id: int | None = None,
    actor: Actor = SYSTEM,
) -> tuple[Tenant, bool]:
    """The tenant at ``domain`` with its bot ``bot_token`` (re)registered, created as a
    client brand when no live tenant serves ``domain`` (at first, and after the demo was
    deleted). Slugs are never reused, so old ``t-<slug>`` deep links and the audit trail
    keep naming one tenant: when another tenant (a deleted one too) holds ``slug``, the
    new one takes ``<slug>-2``, ``<slug>-3``, ... Returns (tenant, created)."""
    with transaction.atomic():
        tenant = tenant_for_domain(domain=domain)
        created = tenant is None
        if tenant is None:
            taken = set(
                Tenant.all_objects.filter(slug__startswith=slug).values_list("slug", flat=True)
            )
            candidates = itertools.chain([slug], (f"{slug}-{n}" for n in itertools.count(2)))
            tenant = tenant_create(
                slug=next(candidate for candidate in candidates if candidate not in taken),
                name=name,
                kind=Tenant.Kind.CLIENT,
                domain=domain,
                owner_telegram_id=owner_telegram_id,
                bot_token=bot_token,
                actor=actor,
            )
        bot_register(
            tenant=tenant, token=bot_token, username=bot_username, actor=actor, audit=False
        )
    return tenant, created


def chat_bind(
    *, tenant: Tenant, chat_id: int, title: str = "", bot: Bot | None = None, actor: Actor = SYSTEM
) -> ChatBinding:
    """Bind a Telegram chat to ``tenant``. A chat belongs to one tenant; binding a chat
    that another tenant holds is refused."""
    with transaction.atomic():
        binding, created = ChatBinding.objects.get_or_create(
            chat_id=chat_id, defaults={"tenant": tenant, "bot": bot, "title": title}
        )
        if not created and binding.tenant_id != tenant.pk:
            raise ServiceError(
                "this chat is already bound to another tenant", code="chat_bound_elsewhere"
            )
        if not created and bot is not None and binding.bot_id != bot.pk:
            # Bound again through another of the tenant's bots: that bot serves it now.
            binding.bot = bot
            binding.save(update_fields=["bot"])
        if created:
            history.record(
                action="chat.bound",
                actor=actor,
                tenant=tenant,
                target=("chat", chat_id),
                data={"title": title},
            )
    return binding


def chat_unbind(*, tenant: Tenant, chat_id: int, actor: Actor = SYSTEM) -> bool:
    with transaction.atomic():
        deleted, _ = ChatBinding.objects.filter(tenant=tenant, chat_id=chat_id).delete()
        if deleted:
            history.record(
                action="chat.unbound", actor=actor, tenant=tenant, target=("chat", chat_id)
            )
    return bool(deleted)
