import psycopg2

from config import dbserver


def test_set_and_reachable_database_url_is_used(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example:5432/x")
    # Without the fallback flag a configured server is used as given (make run).
    assert dbserver.database_url() == "postgresql://u@db.example:5432/x"


def test_unreachable_database_url_falls_back_to_embedded_server(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nothing")
    url = dbserver.database_url(fallback_when_unreachable=True)
    assert "127.0.0.1:1" not in url
    assert str(dbserver.EMBEDDED_PGDATA) in url
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW data_directory")
            assert cursor.fetchone()[0] == str(dbserver.EMBEDDED_PGDATA)
    finally:
        connection.close()


def test_unset_database_url_uses_embedded_server(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert str(dbserver.EMBEDDED_PGDATA) in dbserver.database_url()
