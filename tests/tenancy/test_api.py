"""Every API view is a ``tenancy.api.TenantEndpoint``: the request's tenant (and, where
the view needs one, its community) is resolved once, after authentication and
permissions; no view module reaches for the tenant or a bound group by hand."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from django.urls import resolve
from django.utils import timezone
from django_tenants.utils import tenant_context
from rest_framework.test import APIClient

from community.models import Group
from tenancy.api import TenantEndpoint
from tenancy.models import Tenant
from tenancy.services import chat_bind
from tests.accounts.helpers import Operation, api_operations
from tests.api_matrix import MATRIX, URL_KWARGS
from tests.helpers import init_data_for

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_TOKEN = "7999999996:AAHplatformbottokenforthesuite876543"
STAFF, MEMBER = 7401, 7402
NOT_A_COMMUNITY = "{} to a community; use the community's own domain"


def _view_class(op: Operation) -> type:
    return resolve(op.url(URL_KWARGS)).func.cls


def _call(client: APIClient, op: Operation, body: str = "{}"):
    url = op.url(URL_KWARGS)
    if op.method == "GET":
        return client.get(url, HTTP_HOST="testserver")
    return client.generic(
        op.method, url, body, content_type="application/json", HTTP_HOST="testserver"
    )


def test_every_api_view_is_a_tenant_endpoint():
    operations = api_operations()
    assert operations, "no API operation found: is the URLconf loaded?"
    outside = sorted(
        {op.route for op in operations if not issubclass(_view_class(op), TenantEndpoint)}
    )
    assert not outside, f"API views not derived from tenancy.api.TenantEndpoint: {outside}"


# ---- no view module reaches for the tenant or a bound group by hand -----------------------
def _view_modules() -> list[Path]:
    """The module of every API view, and every ``*views.py`` of the source roots."""
    served = {Path(inspect.getfile(_view_class(op))) for op in api_operations()}
    named = {p for root in ("platform", "tenants") for p in (ROOT / root).rglob("*views.py")}
    return sorted(served | named)


def _hand_rolled(source: str) -> list[tuple[int, str]]:
    """(line, what) for each way of scoping a view by hand that the base replaces."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "_request":
            found.append((node.lineno, "reads request._request (use self.tenant)"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and any(isinstance(a, ast.Constant) and a.value == "tenant" for a in node.args)
        ):
            found.append((node.lineno, "reads the tenant with getattr (use self.tenant)"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "group_not_found" in node.value or "is bound to this community" in node.value:
                found.append((node.lineno, "raises group_not_found itself (use a selector)"))
        elif isinstance(node, ast.ImportFrom):
            private = [a.name for a in node.names if a.name.startswith("_")]
            if private:
                found.append((node.lineno, f"imports private {private} from {node.module}"))
    return found


def test_no_view_module_scopes_a_view_or_finds_a_group_by_hand():
    modules = _view_modules()
    assert ROOT / "tenants/community/views/moderation.py" in modules
    assert ROOT / "platform/notifications/broadcast_views.py" in modules
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in modules
        for line, what in _hand_rolled(path.read_text(encoding="utf-8"))
    ]
    assert not found, "\n".join(found)


def test_the_scan_sees_each_hand_rolled_pattern():
    source = """
from notifications.views import _community
def get(self, request, chat_id):
    tenant = getattr(request._request, "tenant", None)
    raise ApiError("x", code="group_not_found", status_code=404)
"""
    assert [line for line, _ in _hand_rolled(source)] == [2, 4, 4, 5]


# ---- on the platform's own domain: authentication, permissions, then the community ------
@pytest.fixture
def platform_clients(db, settings, user_with_role) -> dict[str, APIClient]:
    """Clients on the platform's own domain (the public tenant): anonymous, a staff user,
    and a user without any role."""
    settings.PLATFORM_BOT_TOKEN = PLATFORM_TOKEN
    public = Tenant.objects.get(schema_name="public")
    clients = {"anonymous": APIClient()}
    for role, user_id in (("staff", STAFF), ("member", MEMBER)):
        user_with_role(public, role, user_id=user_id, username=role)
        client = APIClient()
        header = "tma " + init_data_for(public, user_id=user_id, token=PLATFORM_TOKEN)
        client.credentials(HTTP_AUTHORIZATION=header)
        clients[role] = client
    return clients


# Operations on data that lives in a community (its schema, its broadcasts and
# settings), and those that also mean something on the platform's own domain.
COMMUNITY_DATA = {
    "group-list",
    "group-settings",
    "group-link-code",
    "group-admins-refresh",
    "group-moderation",
    "group-moderation-actions",
    "group-leaderboard",
    "notification-settings",
    "broadcast-list",
    "broadcast-detail",
    "broadcast-cancel",
    "wallet-deposit-instructions",
    "wallet-withdrawal-list",
    "wallet-withdrawal-detail",
    "wallet-withdrawal-pending",
    "wallet-withdrawal-approve",
    "wallet-withdrawal-reject",
    "wallet-withdrawal-policies",
    "wallet-stars-topup",
    "wallet-stars-refund",
    "wallet-my-balances",
    "wallet-my-statement",
    "wallet-group-balances",
    "wallet-group-statement",
    "wallet-group-statement-csv",
    "x-budget",
    "x-credential-list",
    "x-app-token",
    "x-credential-detail",
    "x-connect",
    "x-forwarding-list",
    "x-forwarding-detail",
    "x-mention-rule-list",
    "x-mention-rule-detail",
    "x-mention-list",
    "x-kol-list",
    "x-kol-detail",
    "x-kol-posts",
    "x-kol-report",
    "x-kol-report-csv",
    "raid-results",
    "raid-report-csv",
    "me-rewards",
    "raid-validate",
    "raid-template-list",
    "raid-template-detail",
    "raids-giveaway-list",
    "raids-giveaway-detail",
    "raids-giveaway-enter",
    "raids-giveaway-cancel",
    "raids-giveaway-draw",
    "raids-contest-list",
    "raids-contest-detail",
    "raids-contest-cancel",
    "raid-group-list",
    "raid-detail",
    "raid-cancel",
    "raid-list",
    "raid-join",
    "raid-progress",
    "me-raids",
    "raid-flag-list",
    "raid-flag-dismiss",
    "raid-flag-uphold",
    "raid-blocklist",
    "raid-blocklist-detail",
    "brand",
    "brand-apply",
    "brand-colors",
    "brand-theme",
    "brand-logo",
    "brand-logo-file",
    "brand-text-list",
    "brand-text-detail",
    "brand-preview",
    "bot-list",
    "bot-detail",
    "bot-deploy",
    "bot-pause",
    "bot-token",
}
ANY_TENANT = {
    "me",
    "me-activity",
    "audit",
    "admin-list",
    "admin-capabilities",
    "notification-subscriptions",
    "group-subscriptions",  # a chat the platform has not bound: 404 group_not_found
    "me-x",  # one link per Telegram user across the platform
    "me-x-link",
    "me-x-verify",
    "bot-kind-list",  # the kinds a bot can be: the same for every tenant
}


def test_each_operation_requires_a_community_exactly_when_its_data_lives_in_one():
    operations = api_operations()
    unsorted = sorted({op.name for op in operations} - COMMUNITY_DATA - ANY_TENANT)
    assert not unsorted, f"add these to COMMUNITY_DATA or ANY_TENANT: {unsorted}"
    wrong = sorted(
        op.name
        for op in operations
        if _view_class(op).requires_community != (op.name in COMMUNITY_DATA)
    )
    assert not wrong, f"requires_community is wrong for {wrong}"


def _community_operations() -> list[Operation]:
    return [op for op in api_operations() if op.name in COMMUNITY_DATA]


def test_a_community_view_on_the_platform_domain_refuses_before_it_looks(platform_clients):
    """401 for no identity and 403 for a missing capability come first, as DRF checks
    them; only a caller who passes both learns that the platform has no community."""
    wrong = []
    for op in _community_operations():
        view = _view_class(op)
        absent = {"detail": NOT_A_COMMUNITY.format(view.community_what), "code": "not_a_community"}
        member_passes = MATRIX[(op.name, op.method)] == "authenticated"
        expected = {
            "anonymous": (401, None),
            "member": (404, absent) if member_passes else (403, None),
            "staff": (404, absent),
        }
        for role, (status, body) in expected.items():
            response = _call(platform_clients[role], op)
            if response.status_code != status or (body and response.json() != body):
                wrong.append((op.method, op.route, role, response.status_code, response.content))
    assert not wrong, wrong


def test_each_app_names_what_belongs_to_a_community(platform_clients):
    staff = platform_clients["staff"]
    groups = staff.get("/api/v1/groups", HTTP_HOST="testserver").json()
    assert groups["detail"] == "groups belong to a community; use the community's own domain"
    settings = staff.get("/api/v1/notifications/settings", HTTP_HOST="testserver").json()
    assert settings["detail"] == "this belongs to a community; use the community's own domain"


def test_the_platform_domain_answers_404_before_reading_a_body(platform_clients):
    """The community is part of what the URL names: on a domain that has none, the
    answer is 404 whatever the body holds (as a missing object's would be)."""
    staff = platform_clients["staff"]
    for op, body in (
        (("group-settings", "PATCH"), '{"language": 5, "nonsense": 1}'),
        (("group-moderation", "PUT"), '{"flood": "x"}'),
        (("notification-settings", "PATCH"), '{"allow_paid_broadcast": "maybe"}'),
    ):
        found = next(o for o in api_operations() if (o.name, o.method) == op)
        response = _call(staff, found, body)
        assert response.status_code == 404, (op, response.content)
        assert response.json()["code"] == "not_a_community", op


def test_a_view_sees_the_community_of_the_requests_host(make_tenant, user_with_role, client_for):
    """``self.tenant`` is the host's tenant: its owner lists its group, and another
    community's group is unknown there."""
    ours, theirs = make_tenant(), make_tenant()
    for tenant, chat_id in ((ours, -1_007_701), (theirs, -1_007_702)):
        chat_bind(tenant=tenant, chat_id=chat_id)
        with tenant_context(tenant):
            Group.objects.create(chat_id=chat_id, bound_at=timezone.now())
    user_with_role(ours, "owner", user_id=7403)
    client = client_for(ours, user_id=7403)
    assert [g["chat_id"] for g in client.get("/api/v1/groups").json()["results"]] == [-1_007_701]
    assert client.get("/api/v1/groups/-1007701/settings").status_code == 200
    missing = client.get("/api/v1/groups/-1007702/settings")
    assert missing.status_code == 404
    assert missing.json() == {
        "detail": "no group with chat id -1007702 is bound to this community",
        "code": "group_not_found",
    }
