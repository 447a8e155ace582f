"""Roles and single capabilities: what demotion takes away and what it keeps."""

from __future__ import annotations

import pytest

from accounts.selectors import user_capabilities, user_get
from accounts.services import (
    membership_demote,
    membership_set_capabilities,
    membership_set_role,
)
from config.errors import ServiceError
from history.services import SYSTEM


def _caps(tenant, user_id: int) -> set[str]:
    return {str(c) for c in user_capabilities(tenant=tenant, user=user_get(telegram_id=user_id))}


def test_revocations_survive_demotion_and_re_promotion_but_grants_do_not(tenant, user_with_role):
    user = user_with_role(tenant, "moderator", user_id=9101)
    membership_set_capabilities(
        tenant=tenant, user=user, grant=["view_audit"], revoke=["moderate"], actor=SYSTEM
    )

    assert membership_demote(tenant=tenant, user=user, from_role="moderator")
    assert _caps(tenant, 9101) == set()  # a member holds nothing, not even the grant
    membership_set_role(tenant=tenant, user=user_get(telegram_id=9101), role="admin")

    caps = _caps(tenant, 9101)
    assert "moderate" not in caps  # still revoked
    assert "manage_settings" in caps and "view_audit" in caps  # admin defaults


def test_the_owner_may_lift_a_demoted_members_revocation_but_grant_nothing(tenant, user_with_role):
    user = user_with_role(tenant, "admin", user_id=9102)
    membership_set_capabilities(
        tenant=tenant, user=user, grant=[], revoke=["manage_funds"], actor=SYSTEM
    )
    membership_demote(tenant=tenant, user=user, from_role="admin")
    user = user_get(telegram_id=9102)

    with pytest.raises(ServiceError) as err:
        membership_set_capabilities(
            tenant=tenant, user=user, grant=["manage_raids"], revoke=[], actor=SYSTEM
        )
    assert err.value.code == "not_an_admin"
    membership_set_capabilities(
        tenant=tenant, user=user, grant=["manage_funds"], revoke=[], actor=SYSTEM
    )

    assert _caps(tenant, 9102) == set()  # lifting gives a member nothing
    membership_set_role(tenant=tenant, user=user_get(telegram_id=9102), role="admin")
    assert "manage_funds" in _caps(tenant, 9102)


def test_a_limited_admin_made_owner_holds_every_owner_capability(tenant, user_with_role):
    user = user_with_role(tenant, "admin", user_id=9103)
    membership_set_capabilities(
        tenant=tenant, user=user, grant=[], revoke=["manage_funds"], actor=SYSTEM
    )

    membership_set_role(tenant=tenant, user=user_get(telegram_id=9103), role="owner")

    assert "manage_funds" in _caps(tenant, 9103)
