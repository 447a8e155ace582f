"""``tenant_get`` finds live tenants; the callers that must see a deleted tenant (its
audit trail, a clear "is deleted" error, a deep link that stays silent) ask for it.
``bot_tokens`` hands a runtime the bots of one placement, and only those it keeps, each
token decrypted only for a bot it keeps."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest
from django.core.management import call_command

import tenancy.selectors
from botruntime.selectors import tenant_resolve
from history.services import history_seal
from tenancy.models import Bot
from tenancy.selectors import bot_placement, bot_tokens, tenant_for_domain, tenant_get
from tenancy.services import tenant_delete


@pytest.fixture
def deleted(make_tenant):
    tenant = make_tenant()
    return tenant_delete(tenant=tenant, confirm=tenant.slug)


def test_tenant_get_finds_a_deleted_tenant_only_when_asked(deleted, tenant):
    assert tenant_get(slug=tenant.slug) == tenant
    assert tenant_get(slug=deleted.slug) is None
    assert tenant_get(slug=deleted.slug, include_deleted=True) == deleted


def test_tenant_for_domain_finds_the_live_tenant_of_a_domain(make_tenant):
    live = make_tenant(domain="live.example")
    gone = make_tenant(domain="gone.example")
    tenant_delete(tenant=gone, confirm=gone.slug)
    assert tenant_for_domain(domain="live.example") == live
    assert tenant_for_domain(domain="gone.example") is None


def test_history_verify_still_checks_a_deleted_tenants_chain(deleted):
    history_seal()
    out = io.StringIO()
    call_command("history", "verify", "--tenant", deleted.slug, stdout=out)
    assert out.getvalue().startswith(f"t{deleted.pk} live: ok, 2 entries checked")


def test_the_tenant_command_says_a_deleted_tenant_is_deleted(deleted):
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("tenant", "suspend", deleted.slug, stdout=io.StringIO(), stderr=err)
    assert exit_.value.code == 2
    assert f"tenant {deleted.slug!r} is deleted" in err.getvalue()


def test_a_deep_link_to_a_deleted_community_stays_silent(deleted, settings):
    settings.PLATFORM_BOT_TOKEN = "690000077:AAHplatform-bot-token-deleted-deep-link"
    assert tenant_resolve(bot_id=690000077, start_payload=f"t-{deleted.slug}") is None


def test_bot_tokens_reads_one_placement_and_decrypts_only_the_bots_kept(make_tenant, monkeypatch):
    pooled, isolated, other = (Bot.objects.get(tenant=make_tenant()).telegram_id for _ in range(3))
    Bot.objects.filter(telegram_id=isolated).update(placement=Bot.Placement.ISOLATED)
    decrypted: list[str] = []
    real_decrypt = tenancy.selectors.decrypt

    def decrypt(value: str) -> str:
        decrypted.append(value)
        return real_decrypt(value)

    monkeypatch.setattr(tenancy.selectors, "decrypt", decrypt)

    kept = bot_tokens(placement=Bot.Placement.POOLED, keep=lambda bot_id: bot_id != other)
    assert [bot_id for bot_id, _, _ in kept] == [pooled]
    assert len(decrypted) == 1  # the isolated bot and the one not kept: never decrypted
    assert [b for b, _, _ in bot_tokens(placement=Bot.Placement.ISOLATED)] == [isolated]
    assert [b for b, _, _ in bot_tokens(bot_ids=[isolated, other])] == sorted([isolated, other])
    assert (bot_placement(bot_id=isolated), bot_placement(bot_id=1)) == ("isolated", None)


def _codes_group_not_found(source: str) -> list[int]:
    """Lines that build an error with ``code="group_not_found"`` themselves."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.keyword)
        and node.arg == "code"
        and isinstance(node.value, ast.Constant)
        and node.value.value == "group_not_found"
    ]


def test_group_not_found_is_built_in_one_place():
    """Every "no such bound group" answer is ``tenancy.selectors.group_not_found``: one
    status, one wording, one code, whichever app refuses the chat."""
    root = Path(__file__).resolve().parents[2]
    home = root / "platform/tenancy/selectors.py"
    assert _codes_group_not_found(home.read_text(encoding="utf-8")), "the scan sees nothing"
    found = [
        f"{path.relative_to(root)}:{line}"
        for top in ("platform", "tenants")
        for path in sorted((root / top).rglob("*.py"))
        if path != home
        for line in _codes_group_not_found(path.read_text(encoding="utf-8"))
    ]
    assert not found, f"use tenancy.selectors.group_not_found: {found}"
