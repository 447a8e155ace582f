import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from community.models import FEATURE_DEFAULTS, Group, LinkCode
from community.services import group_bind_with_code
from history.models import Entry
from tenancy.services import chat_bind
from tests.helpers import bot_id_of


def _make_group(tenant, chat_id: int, **fields) -> Group:
    """A bound group without going through Telegram (settings tests need no admins)."""
    chat_bind(tenant=tenant, chat_id=chat_id, title=fields.get("title", ""))
    with tenant_context(tenant):
        return Group.objects.create(chat_id=chat_id, bound_at=timezone.now(), **fields)


def _group(tenant, chat_id: int) -> Group:
    with tenant_context(tenant):
        return Group.objects.get(chat_id=chat_id)


@pytest.fixture
def admin_client(community, client_for, user_with_role):
    """(tenant, client of a user whose role is ``admin``)."""

    def make(role: str = "admin", tenant=None):
        tenant = tenant or community()
        user_with_role(tenant, role, user_id=4242, username="boss")
        return tenant, client_for(tenant, user_id=4242, username="boss")

    return make


def test_group_list_shows_only_this_tenants_bound_groups(admin_client, community):
    tenant, client = admin_client()
    other = community()
    _make_group(tenant, -1001, title="First")
    _make_group(tenant, -1002, title="Second")
    _make_group(tenant, -1003, title="Gone", is_active=False)
    _make_group(other, -1004, title="Elsewhere")

    response = client.get("/api/v1/groups")

    assert response.status_code == 200
    body = response.json()
    assert [g["chat_id"] for g in body["results"]] == [-1002, -1001]  # newest first
    assert body["results"][0]["features"] == FEATURE_DEFAULTS


def test_group_list_paginates_with_a_cursor(admin_client):
    tenant, client = admin_client()
    for n in range(3):
        _make_group(tenant, -2000 - n)

    first = client.get("/api/v1/groups?page_size=2").json()
    second = client.get(first["next"]).json()

    assert len(first["results"]) == 2 and len(second["results"]) == 1
    assert second["next"] is None


def test_get_settings(admin_client):
    tenant, client = admin_client()
    _make_group(tenant, -1001, title="Fans", language="es", features={"moderation": True})

    response = client.get("/api/v1/groups/-1001/settings")

    assert response.status_code == 200
    body = response.json()
    assert (body["chat_id"], body["title"], body["language"], body["timezone"]) == (
        -1001,
        "Fans",
        "es",
        "UTC",
    )
    assert body["features"] == {**FEATURE_DEFAULTS, "moderation": True}


def test_patch_settings_changes_only_given_fields_and_audits_them(admin_client):
    tenant, client = admin_client()
    _make_group(tenant, -1001, title="Fans", welcome_text="hi")

    response = client.patch(
        "/api/v1/groups/-1001/settings",
        {
            "language": "pt-BR",
            "timezone": "America/Sao_Paulo",
            "features": {"raids": False, "moderation": True},
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["language"] == "pt-BR" and body["timezone"] == "America/Sao_Paulo"
    assert body["features"]["raids"] is False and body["features"]["moderation"] is True
    group = _group(tenant, -1001)
    assert (group.title, group.welcome_text, group.language) == ("Fans", "hi", "pt-BR")
    assert group.features == {"raids": False, "moderation": True}
    entry = Entry.objects.get(tenant=tenant, action="group.settings_updated")
    assert entry.actor_id == "4242" and entry.target_id == "-1001"
    assert entry.data["changed"] == {
        "language": {"from": "en", "to": "pt-BR"},
        "timezone": {"from": "UTC", "to": "America/Sao_Paulo"},
        "features": {
            "raids": {"from": True, "to": False},
            "moderation": {"from": False, "to": True},
        },
    }


def test_patch_with_no_change_writes_no_audit(admin_client):
    tenant, client = admin_client()
    _make_group(tenant, -1001, language="en")

    response = client.patch(
        "/api/v1/groups/-1001/settings",
        {"language": "en", "features": {"raids": True}},
        format="json",
    )

    assert response.status_code == 200
    assert not Entry.objects.filter(tenant=tenant, action="group.settings_updated").exists()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"language": "english"}, "invalid_language"),
        ({"language": "EN"}, "invalid_language"),
        ({"timezone": "Mars/Olympus"}, "invalid_timezone"),
        ({"timezone": "../etc/passwd"}, "invalid_timezone"),
        ({"welcome_text": "x" * 4097}, "welcome_text_too_long"),
        ({"features": {"teleport": True}}, "unknown_feature"),
        ({"features": {"raids": "yes"}}, "invalid_feature_value"),
        ({"features": {"raids": 1}}, "invalid_feature_value"),
        ({"features": ["raids"]}, "not_a_dict"),
        ({"title": "t" * 256}, "invalid_title"),
        ({"colour": "red"}, "unknown_field"),
        # A number or a boolean where the schema says string is not turned into one.
        ({"title": 0.0}, "invalid"),
        ({"welcome_text": True}, "invalid"),
        # A valid change next to an invalid one: nothing at all is written.
        ({"language": "de", "timezone": "Nowhere/Land"}, "invalid_timezone"),
    ],
)
def test_invalid_settings_are_refused_and_nothing_changes(admin_client, payload, code):
    tenant, client = admin_client()
    _make_group(tenant, -1001, title="Fans")
    before = _group(tenant, -1001)

    response = client.patch("/api/v1/groups/-1001/settings", payload, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code and body["detail"]
    after = _group(tenant, -1001)
    assert [(f.name, getattr(after, f.name)) for f in Group._meta.fields] == [
        (f.name, getattr(before, f.name)) for f in Group._meta.fields
    ]
    assert not Entry.objects.filter(tenant=tenant, action="group.settings_updated").exists()


def test_welcome_text_of_exactly_4096_characters_is_accepted(admin_client):
    tenant, client = admin_client()
    _make_group(tenant, -1001)
    response = client.patch(
        "/api/v1/groups/-1001/settings", {"welcome_text": "x" * 4096}, format="json"
    )
    assert response.status_code == 200
    assert len(_group(tenant, -1001).welcome_text) == 4096


@pytest.mark.parametrize("method", ["get", "patch"])
def test_settings_of_unknown_or_unbound_or_foreign_chat_is_404(admin_client, community, method):
    tenant, client = admin_client()
    _make_group(tenant, -1003, is_active=False)
    _make_group(community(), -1004)
    for chat_id in (-1001, -1003, -1004):
        response = getattr(client, method)(
            f"/api/v1/groups/{chat_id}/settings", {"language": "de"}, format="json"
        )
        assert response.status_code == 404
        assert response.json()["code"] == "group_not_found"


@pytest.mark.parametrize("role", ["member", "moderator"])
def test_settings_need_manage_settings(admin_client, role):
    tenant, client = admin_client(role)
    _make_group(tenant, -1001)
    assert client.get("/api/v1/groups").status_code == 403
    assert client.get("/api/v1/groups/-1001/settings").status_code == 403
    response = client.patch("/api/v1/groups/-1001/settings", {"language": "de"}, format="json")
    assert response.status_code == 403
    assert _group(tenant, -1001).language == "en"


def test_link_code_api_returns_a_code_that_binds(admin_client, tg_user, group_chat):
    tenant, client = admin_client()

    response = client.post("/api/v1/groups/link-code")

    assert response.status_code == 201
    body = response.json()
    code = body["code"]
    assert body["command"] == f"/bind {code}" and f"/bind {code}" in body["instructions"]
    with tenant_context(tenant):
        link = LinkCode.objects.get(code=code)
    assert link.created_by == 4242 and link.used_at is None
    # Two requests, two different codes.
    assert client.post("/api/v1/groups/link-code").json()["code"] != code

    creator = tg_user("creator")
    chat_id = group_chat(tenant, creator=creator)
    result = group_bind_with_code(
        tenant=tenant,
        code=code,
        chat_id=chat_id,
        title="Fans",
        from_telegram_id=creator["id"],
        bot_id=bot_id_of(tenant),
    )
    assert result.newly_bound


def test_link_code_api_needs_manage_settings(admin_client):
    tenant, client = admin_client("moderator")
    assert client.post("/api/v1/groups/link-code").status_code == 403
    with tenant_context(tenant):
        assert not LinkCode.objects.exists()
