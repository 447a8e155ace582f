"""Custom bots: an admin picks a kind (``bot_templates/``), fills its parameters, and the
bot is deployed, updated (redeployed), paused and deleted through the provisioner's
backend (``provisioner.backends.backend``).

Statuses: ``pending`` (created, never deployed) → ``deploying`` (handed to the backend)
→ ``running`` or ``failed`` (with the reason); ``paused`` (stopped, configuration kept).
A deployment is followed by the durable job ``branding.bot_status`` until it is running,
failed, or did not start within ``BOT_STATUS_TIMEOUT_S``. Every status change is audited
in its transaction and told to the tenant's admins who hold ``manage_bots``.

The backend is called outside any database transaction (it may take seconds and talks
to another system); a deploy bumps the bot's ``revision`` first, so a slower, older
deploy never overwrites what a newer one recorded."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

import history.services as history
from accounts.roles import Capability, effective_capabilities
from accounts.selectors import membership_list
from botruntime.services import job_enqueue
from branding.models import CustomBot
from branding.selectors import message_overrides
from branding.services.tokens import bot_bind, bot_taken_check, token_identity
from config.errors import ServiceError
from history.services import SYSTEM, Actor
from notifications.services import UserMessage, notify_users
from provisioner.backends import backend
from provisioner.kinds import Kind, KindNotFound, kind_get, kinds
from provisioner.messages import MessageError, message_render
from provisioner.parameters import ParameterError, parameters_validate
from provisioner.spec import BotSpec, Placement, Rollout, Status
from tenancy.models import Bot, Tenant
from tenancy.selectors import bot_get, tenant_bots
from tenancy.services import bot_register, bot_set_active

logger = logging.getLogger(__name__)

STATUS_JOB = "branding.bot_status"
STATUS_EVENT = "bot.status"  # notifications.events: for the community's admins

# From which statuses each operation may start (deploying again converges: apply is
# idempotent, and the newer revision wins).
PAUSABLE = {CustomBot.Status.DEPLOYING, CustomBot.Status.RUNNING, CustomBot.Status.FAILED}
# An update of a bot in these statuses is deployed at once; the others keep it for the
# next deploy.
LIVE = {CustomBot.Status.DEPLOYING, CustomBot.Status.RUNNING}
REASON_MAX = 300


# ---- kinds and parameters ----------------------------------------------------------------
def kind_for(name: str) -> Kind:
    try:
        return kind_get(name)
    except KindNotFound:
        raise ServiceError(
            f"unknown bot kind {name!r}; kinds: {', '.join(sorted(kinds()))}", code="unknown_kind"
        ) from None


def parameters_for(*, kind: Kind, parameters: Any) -> dict[str, Any]:
    """The kind's parameters with defaults, or 400 ``invalid_parameters`` naming each
    field (``errors``: field path -> message)."""
    try:
        return parameters_validate(kind=kind, parameters=parameters)
    except ParameterError as exc:
        raise ServiceError(
            f"the parameters of a {kind.name} bot are not valid: {exc}",
            code="invalid_parameters",
            errors=exc.errors,
        ) from None


# ---- reads inside the tenant's schema ----------------------------------------------------
def _locked(bot_id: int) -> CustomBot:
    bot = CustomBot.objects.select_for_update().filter(telegram_id=bot_id).first()
    if bot is None:
        raise ServiceError("no such bot in this community", code="bot_not_found", status=404)
    return bot


# ---- status and notifications ------------------------------------------------------------
def _managers(tenant: Tenant) -> list[int]:
    """Telegram ids of the tenant's members holding ``manage_bots``."""
    return [
        membership.user.telegram_id
        for membership in membership_list(tenant=tenant)
        if Capability.MANAGE_BOTS
        in effective_capabilities(membership.role, membership.granted, membership.revoked)
    ]


def _status_text(bot: CustomBot, status: str, reason: str) -> str:
    name = f"@{bot.username}" if bot.username else f"bot {bot.telegram_id}"
    title = kind_get(bot.kind).title if bot.kind in kinds() else bot.kind
    text = f"{title} {name}: {status}"
    return f"{text} ({reason})" if reason else text


def _status_set(
    *, tenant: Tenant, bot: CustomBot, status: str, reason: str = "", actor: Actor
) -> None:
    """Move ``bot`` (locked) to ``status``: saved, audited and told to its managers, in
    the caller's transaction. No change, nothing written."""
    reason = reason[:REASON_MAX]
    if bot.status == status and bot.status_reason == reason:
        return
    previous = bot.status
    bot.status, bot.status_reason = status, reason
    bot.save(update_fields=["status", "status_reason", "updated_at"])
    history.record(
        action="custom_bot.status_changed",
        actor=actor,
        tenant=tenant,
        target=("custom_bot", bot.telegram_id),
        data={"from": previous, "to": status, "reason": reason, "revision": bot.revision},
    )
    text = _status_text(bot, status, reason)
    key = f"custom_bot:{bot.telegram_id}:r{bot.revision}:{status}"
    notify_users(
        tenant=tenant,
        event=STATUS_EVENT,
        messages=[UserMessage(user_id, text, f"{key}:{user_id}") for user_id in _managers(tenant)],
    )
    logger.info(
        "branding.bot_status",
        extra={"tenant": tenant.slug, "bot_id": bot.telegram_id, "status": status},
    )


# ---- the desired state -----------------------------------------------------------------
def _texts(*, tenant: Tenant, kind: Kind, parameters: dict[str, Any], language: str) -> dict:
    """Every message of the kind with the bot's parameters in (the brand's own texts
    first). A variable that only an update knows (``first_name``) stays as ``{name}``
    for the runtime to fill; an optional parameter left out is empty."""
    overrides = message_overrides(tenant=tenant, kind=kind.name, language=language)
    declared = set(kind.parameters.get("properties", {}))
    texts = {}
    for key, variables in kind.variables.items():
        values: dict[str, Any] = {
            name: parameters.get(name, "") if name in declared else f"{{{name}}}"
            for name in variables
        }
        try:
            texts[key] = message_render(
                kind=kind, key=key, language=language, values=values, override=overrides.get(key)
            )
        except MessageError as exc:
            raise ServiceError(
                f"message {key!r} cannot be rendered: {exc}", code="invalid_text"
            ) from None
    return texts


def _webhook_url(bot_id: int) -> str | None:
    base = settings.BOT_WEBHOOK_URL.rstrip("/")
    return f"{base}/telegram/webhook/{bot_id}" if base else None


def _spec(*, tenant: Tenant, bot: CustomBot, placement: str) -> BotSpec:
    token = dict(tenant_bots(tenant=tenant)).get(bot.telegram_id, "")
    if not token:
        raise ServiceError(
            "the bot's token is not available (unreadable or the bot is inactive); "
            "set it again with PUT /api/v1/bots/<bot_id>/token",
            code="token_unavailable",
            status=409,
        )
    kind = kind_for(bot.kind)
    language = str(bot.parameters.get("default_language", "en"))
    return BotSpec(
        tenant=tenant.slug,
        tenant_id=tenant.pk,
        bot_id=bot.telegram_id,
        kind=kind.name,
        parameters=bot.parameters,
        placement=Placement(placement),
        token=token,
        username=bot.username,
        language=language,
        texts=_texts(tenant=tenant, kind=kind, parameters=bot.parameters, language=language),
        webhook_url=_webhook_url(bot.telegram_id),
    )


def _backend_call(what: str, call: Callable[[], Rollout], *, bot_id: int) -> Rollout:
    """A backend's answer; a backend that raises is a failed rollout with the reason (the
    error's class and text; a BotSpec's repr leaves the token out)."""
    try:
        return call()
    except Exception as exc:  # any backend (Kubernetes API, processes, a plugin) may raise
        logger.warning(
            "branding.backend_failed",
            extra={"bot_id": bot_id, "operation": what, "error": type(exc).__name__},
        )
        return Rollout(Status.FAILED, reason=f"the provisioner could not {what}: {exc}")


def _backend_must(what: str, call: Callable[[], Rollout], *, bot_id: int) -> Rollout:
    """The backend's answer to a pause or a removal; failed: 502 and nothing changes."""
    rollout = _backend_call(what, call, bot_id=bot_id)
    if rollout.status == Status.FAILED:
        raise ServiceError(rollout.reason[:REASON_MAX], code="provisioner_failed", status=502)
    return rollout


# ---- create, update --------------------------------------------------------------------
def custom_bot_create(
    *, tenant: Tenant, token: str, kind: str, parameters: Any, actor: Actor
) -> CustomBot:
    """A bot of ``kind`` on ``token`` (checked with Telegram, stored encrypted, placed
    by the tenant's plan), ``pending`` until deployed. The tenant's existing bot (its
    white-label bot) is adopted the same way."""
    chosen = kind_for(kind)
    filled = parameters_for(kind=chosen, parameters=parameters)
    token = (token or "").strip()
    identity = token_identity(token=token)
    bot_taken_check(tenant=tenant, bot_id=identity.bot_id)
    with tenant_context(tenant), transaction.atomic():
        bot = bot_bind(tenant=tenant, token=token, identity=identity, actor=actor)
        try:
            with transaction.atomic():
                custom = CustomBot.objects.create(
                    telegram_id=bot.telegram_id,
                    username=identity.username,
                    kind=chosen.name,
                    parameters=filled,
                    placement=bot.placement,
                    created_by=int(actor.id) if actor.type == "user" else None,
                )
        except IntegrityError:
            raise ServiceError(
                "this bot is already one of the community's custom bots",
                code="custom_bot_exists",
                status=409,
            ) from None
        history.record(
            action="custom_bot.created",
            actor=actor,
            tenant=tenant,
            target=("custom_bot", custom.telegram_id),
            data={"kind": chosen.name, "placement": custom.placement},
        )
    logger.info(
        "branding.custom_bot_created",
        extra={"tenant": tenant.slug, "bot_id": custom.telegram_id, "kind": chosen.name},
    )
    return custom


def custom_bot_update(*, tenant: Tenant, bot_id: int, parameters: Any, actor: Actor) -> CustomBot:
    """New parameters (validated against the kind); a running or deploying bot is
    redeployed with them."""
    with tenant_context(tenant):
        with transaction.atomic():
            bot = _locked(bot_id)
            filled = parameters_for(kind=kind_for(bot.kind), parameters=parameters)
            changed = filled != bot.parameters
            if changed:
                bot.parameters = filled
                bot.save(update_fields=["parameters", "updated_at"])
                history.record(
                    action="custom_bot.updated",
                    actor=actor,
                    tenant=tenant,
                    target=("custom_bot", bot.telegram_id),
                    data={"fields": sorted(filled)},
                )
        if changed and bot.status in LIVE:
            return custom_bot_deploy(tenant=tenant, bot_id=bot_id, actor=actor)
        return bot


# ---- deploy, follow, pause, delete -------------------------------------------------------
def custom_bot_deploy(*, tenant: Tenant, bot_id: int, actor: Actor) -> CustomBot:
    """Hand the bot's desired state to the backend (a new revision) and record what it
    says: running or failed at once, else ``deploying``, followed by ``branding.bot_status``."""
    with tenant_context(tenant):
        with transaction.atomic():
            bot = _locked(bot_id)
            tenancy_bot = bot_get(tenant=tenant, bot_id=bot_id, active_only=False)
            if tenancy_bot is None:
                raise ServiceError(
                    "no such bot in this community", code="bot_not_found", status=404
                )
            if not tenancy_bot.is_active:
                bot_set_active(bot=tenancy_bot, is_active=True, actor=actor)
            placement = tenancy_bot.placement
            spec = _spec(tenant=tenant, bot=bot, placement=placement)
            bot.revision += 1
            bot.placement = placement
            bot.config_sha256 = spec.config_sha256()
            revision = bot.revision
            bot.save(update_fields=["revision", "placement", "config_sha256", "updated_at"])
            _status_set(tenant=tenant, bot=bot, status=CustomBot.Status.DEPLOYING, actor=actor)
            deadline = timezone.now() + timedelta(seconds=settings.BOT_STATUS_TIMEOUT_S)
        rollout = _backend_call("deploy the bot", lambda: backend().apply(spec), bot_id=bot_id)
        with transaction.atomic():
            bot = _locked(bot_id)
            if bot.revision != revision or bot.status != CustomBot.Status.DEPLOYING:
                return bot  # a newer deploy, a pause or a delete came in the meantime
            _rollout_record(tenant=tenant, bot=bot, rollout=rollout, deadline=deadline, actor=actor)
    return bot


def custom_bots_redeploy(*, tenant: Tenant, kind: str, actor: Actor) -> list[CustomBot]:
    """Redeploy the community's live bots of ``kind`` whose rendered configuration
    changed (a brand text of theirs was set or reverted): their workloads restart with
    the new texts at once, instead of within the texts cache's TTL."""
    with tenant_context(tenant):
        live = list(CustomBot.objects.filter(kind=kind, status__in=LIVE))
        changed = [
            bot.telegram_id
            for bot in live
            if _spec(tenant=tenant, bot=bot, placement=bot.placement).config_sha256()
            != bot.config_sha256
        ]
    return [custom_bot_deploy(tenant=tenant, bot_id=bot_id, actor=actor) for bot_id in changed]


def custom_bots_resume(*, tenant: Tenant) -> int:
    """Hand the backend the desired state of the community's live isolated bots again,
    without a new revision: after a restart of the machine the local backend's processes
    are gone (a cluster keeps its workloads; applying there changes nothing). A bot the
    backend cannot start is recorded as failed. Returns how many were applied."""
    with tenant_context(tenant):
        live = list(CustomBot.objects.filter(status__in=LIVE, placement=Placement.ISOLATED))
        for bot in live:
            try:
                spec = _spec(tenant=tenant, bot=bot, placement=bot.placement)
            except ServiceError as exc:
                rollout = Rollout(Status.FAILED, reason=exc.message)
            else:

                def apply(spec: BotSpec = spec) -> Rollout:
                    return backend().apply(spec)  # inside the call: a backend error is a reason

                rollout = _backend_call("resume the bot", apply, bot_id=bot.telegram_id)
            if rollout.status == Status.FAILED:
                with transaction.atomic():
                    _status_set(
                        tenant=tenant,
                        bot=_locked(bot.telegram_id),
                        status=CustomBot.Status.FAILED,
                        reason=rollout.reason,
                        actor=SYSTEM,
                    )
    return len(live)


def _rollout_record(
    *, tenant: Tenant, bot: CustomBot, rollout: Rollout, deadline: datetime, actor: Actor
) -> None:
    """Running or failed: the bot's status. Still on its way: followed again shortly,
    until ``deadline`` (``BOT_STATUS_TIMEOUT_S`` after the deploy)."""
    if rollout.status in (Status.RUNNING, Status.FAILED):
        _status_set(
            tenant=tenant, bot=bot, status=rollout.status, reason=rollout.reason, actor=actor
        )
        return
    if timezone.now() >= deadline:
        reason = f"did not start within {settings.BOT_STATUS_TIMEOUT_S} s"
        if rollout.reason:
            reason += f": {rollout.reason}"
        _status_set(
            tenant=tenant, bot=bot, status=CustomBot.Status.FAILED, reason=reason, actor=actor
        )
        return
    job_enqueue(
        kind=STATUS_JOB,
        tenant=tenant,
        payload={
            "bot_id": bot.telegram_id,
            "revision": bot.revision,
            "deadline": deadline.isoformat(),
        },
        run_at=timezone.now() + timedelta(seconds=settings.BOT_STATUS_POLL_S),
        dedupe_key=f"{STATUS_JOB}:{tenant.pk}:{bot.telegram_id}:{bot.revision}",
    )


def custom_bot_status_follow(
    *, tenant: Tenant, bot_id: int, revision: int, deadline: datetime
) -> CustomBot | None:
    """One look at a deployment (the job ``branding.bot_status``): the backend's status
    written back. A bot deleted, paused or deployed again since is left alone."""
    with tenant_context(tenant):
        current = CustomBot.objects.filter(telegram_id=bot_id).first()
        if current is None or current.revision != revision:
            return current
        if current.status != CustomBot.Status.DEPLOYING:
            return current
        rollout = _backend_call(
            "read the bot's status",
            lambda: backend().status(tenant=tenant.slug, bot_id=bot_id),
            bot_id=bot_id,
        )
        if rollout.status == Status.FAILED and rollout.reason.startswith("the provisioner could"):
            rollout = Rollout(Status.DEPLOYING, reason=rollout.reason)  # try again next time
        with transaction.atomic():
            bot = _locked(bot_id)
            if bot.revision == revision and bot.status == CustomBot.Status.DEPLOYING:
                _rollout_record(
                    tenant=tenant,
                    bot=bot,
                    rollout=rollout,
                    deadline=deadline,
                    actor=Actor.system("provisioner"),
                )
        return bot


def custom_bot_pause(*, tenant: Tenant, bot_id: int, actor: Actor) -> CustomBot:
    """Stop the bot, keeping its configuration (deploy starts it again). A pending bot
    was never started, a paused one is stopped already: 409."""
    with tenant_context(tenant):
        with transaction.atomic():
            bot = _locked(bot_id)
            if bot.status not in PAUSABLE:
                raise ServiceError(
                    f"a {bot.status} bot cannot be paused; only a deploying, running or failed one",
                    code="invalid_status",
                    status=409,
                )
        _backend_must(
            "pause the bot",
            lambda: backend().pause(tenant=tenant.slug, bot_id=bot_id),
            bot_id=bot_id,
        )
        with transaction.atomic():
            bot = _locked(bot_id)
            tenancy_bot = bot_get(tenant=tenant, bot_id=bot_id, active_only=False)
            if tenancy_bot is not None and tenancy_bot.is_active:
                # Pooled bots run as long as they are active: the shards release it.
                bot_set_active(bot=tenancy_bot, is_active=False, actor=actor)
            _status_set(tenant=tenant, bot=bot, status=CustomBot.Status.PAUSED, actor=actor)
    return bot


def custom_bot_delete(*, tenant: Tenant, bot_id: int, actor: Actor) -> None:
    """Remove the bot's workload, deactivate its bot (its token stays encrypted until the
    tenant binds it again) and delete the custom bot."""
    with tenant_context(tenant):
        with transaction.atomic():
            _locked(bot_id)
        _backend_must(
            "remove the bot",
            lambda: backend().remove(tenant=tenant.slug, bot_id=bot_id),
            bot_id=bot_id,
        )
        with transaction.atomic():
            bot = _locked(bot_id)
            tenancy_bot = bot_get(tenant=tenant, bot_id=bot_id, active_only=False)
            if tenancy_bot is not None:
                bot_set_active(bot=tenancy_bot, is_active=False, actor=actor)
            history.record(
                action="custom_bot.deleted",
                actor=actor,
                tenant=tenant,
                target=("custom_bot", bot.telegram_id),
                data={"kind": bot.kind, "status": bot.status},
            )
            bot.delete()
    logger.info("branding.custom_bot_deleted", extra={"tenant": tenant.slug, "bot_id": bot_id})


# ---- token rotation --------------------------------------------------------------------
def bot_token_rotate(*, tenant: Tenant, bot_id: int, token: str, actor: Actor) -> Bot:
    """Replace the token of the tenant's bot ``bot_id`` (after BotFather's /revoke): the
    new token must open the same bot (getMe), else 400 ``different_bot``. The swap is one
    update; the runtime shards re-host a pooled bot on their next refresh, and an isolated
    bot that is deployed is redeployed (its Secret changed)."""
    if bot_get(tenant=tenant, bot_id=bot_id, active_only=False) is None:
        raise ServiceError("no such bot in this community", code="bot_not_found", status=404)
    token = (token or "").strip()
    identity = token_identity(token=token)  # the token's own id is the bot getMe names
    if identity.bot_id != bot_id:
        raise ServiceError(
            f"this token is for another bot, not {bot_id}; a rotated token keeps the bot's id",
            code="different_bot",
        )
    with transaction.atomic():
        bot = bot_register(
            tenant=tenant, token=token, username=identity.username, actor=actor, audit=False
        )
        history.record(
            action="bot.token_rotated",
            actor=actor,
            tenant=tenant,
            target=("bot", bot_id),
            data={"username": identity.username},
        )
    custom = None
    with tenant_context(tenant):
        custom = CustomBot.objects.filter(telegram_id=bot_id).first()
    if (
        custom is not None
        and bot.placement == Bot.Placement.ISOLATED
        and custom.status in LIVE | {CustomBot.Status.FAILED}
    ):
        custom_bot_deploy(tenant=tenant, bot_id=bot_id, actor=actor)
    logger.info("branding.bot_token_rotated", extra={"tenant": tenant.slug, "bot_id": bot_id})
    return bot
