import io

import pytest
from django.core.management import call_command

from tenancy.models import Tenant


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("tenant", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_create_list_suspend_resume_delete(db):
    code, out, _ = run(
        "create",
        "--slug",
        "cli-brand",
        "--name",
        "CLI Brand",
        "--kind",
        "client",
        "--domain",
        "cli-brand.test",
        "--bot-token",
        "4242:" + "B" * 35,
    )
    assert code == 0 and "created tenant cli-brand" in out
    assert Tenant.objects.get(slug="cli-brand").bots.count() == 1
    code, out, _ = run("list")
    assert "cli-brand" in out and "client" in out and "cli-brand.test" in out
    assert run("suspend", "cli-brand", "--reason", "test")[0] == 0
    assert Tenant.objects.get(slug="cli-brand").status == "suspended"
    assert run("resume", "cli-brand")[0] == 0
    code, _, err = run("delete", "cli-brand")  # stdin is not a terminal: needs --confirm
    assert code == 2 and "--confirm cli-brand" in err
    assert Tenant.objects.filter(slug="cli-brand").exists()
    assert run("delete", "cli-brand", "--confirm", "cli-brand")[0] == 0
    assert not Tenant.objects.filter(slug="cli-brand").exists()
    assert Tenant.all_objects.get(slug="cli-brand").status == "deleted"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--slug", "Bad Slug", "--domain", "a.test"], "slug must be"),
        (["--slug", "okay", "--domain", "a.test", "--bot-token", "123"], "bot token must"),
        (["--slug", "okay", "--domain", "bad domain"], "not a valid domain"),
    ],
)
def test_create_errors_exit_2_and_create_nothing(db, args, message):
    before = Tenant.all_objects.count()
    code, _, err = run("create", "--name", "X", *args)
    assert code == 2
    assert message in err
    assert Tenant.all_objects.count() == before


def test_duplicates_exit_2(db):
    assert run("create", "--slug", "twice", "--name", "T", "--domain", "twice.test")[0] == 0
    code, _, err = run("create", "--slug", "twice", "--name", "T", "--domain", "other.test")
    assert code == 2 and "already exists" in err
    code, _, err = run("create", "--slug", "thrice", "--name", "T", "--domain", "twice.test")
    assert code == 2 and "already in use" in err
    assert run("suspend", "nobody")[0] == 2


def test_create_with_an_owner_and_name_one_later(db):
    from accounts.selectors import user_get, user_role

    code, out, _ = run(
        "create", "--slug", "owned", "--name", "Owned", "--domain", "owned.test",
        "--owner-telegram-id", "4141",
    )  # fmt: skip
    assert code == 0 and "owned by 4141" in out
    owned = Tenant.objects.get(slug="owned")
    assert user_role(tenant=owned, user=user_get(telegram_id=4141)) == "owner"

    code, out, _ = run("create", "--slug", "ownerless", "--name", "X", "--domain", "x.test")
    assert code == 0 and "with no owner (name one: tenant owner SLUG" in out
    code, out, _ = run("owner", "ownerless", "--telegram-id", "4242")
    assert code == 0 and "4242 is now an owner of ownerless" in out
    ownerless = Tenant.objects.get(slug="ownerless")
    assert user_role(tenant=ownerless, user=user_get(telegram_id=4242)) == "owner"

    code, _, err = run("owner", "ownerless", "--telegram-id", "-5")
    assert code == 2 and "positive number" in err
    code, _, err = run("owner", "no-such", "--telegram-id", "5")
    assert code == 2 and "no tenant with slug 'no-such'" in err
