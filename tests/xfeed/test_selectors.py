"""xfeed reads: who manages a community's settings (what the bot commands ask), and a
group's lists only for a group bound to that community."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from config.errors import ServiceError
from xfeed.models import Account, Forwarding, MentionRule
from xfeed.selectors import forwarding_list, manages_settings, mention_list, mention_rule_list


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("owner", True), ("admin", True), ("moderator", False), ("member", False), ("staff", True)],
)
def test_manages_settings_follows_the_role(tenant, user_with_role, role, allowed):
    user_with_role(tenant, role, user_id=8401, username="someone")
    assert manages_settings(tenant=tenant, telegram_id=8401) is allowed


def test_an_unknown_person_manages_nothing(tenant):
    assert manages_settings(tenant=tenant, telegram_id=8499) is False


def test_the_lists_are_of_one_bound_group(make_tenant, bound_group):
    a, b = make_tenant(), make_tenant()
    chat, other = bound_group(a), bound_group(a)
    b_chat = bound_group(b)
    with tenant_context(a):
        account = Account.objects.create(x_user_id=1, username="p", resolved_at="2026-12-01T00:00Z")
        Forwarding.objects.create(chat_id=chat, account=account)
        Forwarding.objects.create(chat_id=other, account=account)
        MentionRule.objects.create(chat_id=other, name="r", keywords=["x"])
        assert [f.chat_id for f in forwarding_list(tenant=a, chat_id=chat)] == [chat]
        assert list(mention_rule_list(tenant=a, chat_id=chat)) == []
        assert list(mention_list(tenant=a, chat_id=chat)) == []
        for read in (forwarding_list, mention_rule_list, mention_list):
            with pytest.raises(ServiceError) as refused:
                read(tenant=a, chat_id=b_chat)
            assert refused.value.code == "group_not_found"
