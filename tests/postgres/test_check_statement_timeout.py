"""The isolation check's own connection carries a statement_timeout (CHECK_TIMEOUT)."""

import time

import psycopg
from django.core.management import call_command

from stagesub.tenancy.backends import backend_for


def test_a_blocked_statement_is_cancelled_by_the_checks_statement_timeout(
    goteborg, malmo, settings, capsys
):
    settings.CHECK_TIMEOUT = 2
    backend = backend_for(malmo.server)
    s = backend.admin_settings
    # Another session holds the stamp table: the check connects fine, then its SELECT waits.
    with psycopg.connect(
        dbname=malmo.database_name,
        user=s["USER"] or None,
        password=s["PASSWORD"] or None,
        host=s["HOST"] or None,
        port=s["PORT"] or None,
    ) as blocker:
        blocker.execute("LOCK TABLE orchestra_databasestamp IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        try:
            call_command("verify_isolation")
        except SystemExit as exit_:
            code = exit_.code
        elapsed = time.monotonic() - started
        blocker.rollback()
    assert code == 2 and elapsed < 6, (code, elapsed)
    out = capsys.readouterr().out
    assert "malmo" in out and "statement timeout" in out
