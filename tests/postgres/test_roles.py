"""PostgreSQL: each orchestra's role reaches its own database and no other."""

import psycopg
import pytest

from stagesub.crypto import decrypt_secret
from stagesub.urlconfig import database_settings

# Collected on the PostgreSQL run only (see tests/conftest.py): roles and CONNECT privileges
# are PostgreSQL's; on SQLite each orchestra is a separate file.


def _connect(orchestra, database_name, password=None):
    server = database_settings(orchestra.server.url)
    return psycopg.connect(
        dbname=database_name,
        user=orchestra.database_user,
        password=password or decrypt_secret(orchestra.database_password_encrypted),
        host=server["HOST"],
    )


def test_role_connects_to_its_own_database(goteborg):
    with _connect(goteborg, goteborg.database_name) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == goteborg.database_user


def test_role_cannot_connect_to_another_orchestras_database(goteborg, malmo):
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        _connect(goteborg, malmo.database_name)
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        _connect(malmo, goteborg.database_name)


def test_role_password_is_checked(goteborg):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(goteborg, goteborg.database_name, password="wrong")
