"""verify_isolation / monitor_isolation / check_database / resolve_incident, on real databases."""

import json
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from stagesub.tenancy.isolation import verify_isolation
from stagesub.tenancy.models import AuditEvent, DatabaseServer, IsolationIncident, Orchestra
from stagesub.tenancy.provisioning import ProvisioningRefused, ProvisionRequest, create_orchestra
from tests.conftest import point_at_same_database
from tests.mailserver import free_port


def _run(command, *args):
    try:
        call_command(command, *args)
    except SystemExit as exit_:
        return exit_.code
    return 0


def test_isolated_orchestras_pass(goteborg, malmo, capsys):
    assert _run("verify_isolation") == 0
    out = capsys.readouterr().out
    assert "All 2 orchestras have their own database" in out


def test_shared_physical_database_detected_with_exit_1(goteborg, malmo, tmp_path, capsys):
    point_at_same_database(malmo, goteborg, tmp_path)
    report = verify_isolation()
    assert report.exit_code == 1
    assert any("goteborg, malmo" in v for v in report.violations)
    assert _run("verify_isolation", "--json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["isolated"] is False
    shared = {o["subdomain"]: o["shared_with"] for o in data["orchestras"]}
    assert shared == {"goteborg": ["malmo"], "malmo": ["goteborg"]}


def test_unreachable_database_exit_2(goteborg, malmo):
    Orchestra.objects.filter(pk=malmo.pk).update(database_name=malmo.database_name + "_gone")
    if malmo.server.kind == "sqlite":
        # SQLite would create an empty file on connect; make the directory unreadable instead.
        Orchestra.objects.filter(pk=malmo.pk).update(database_name="missing-dir/x.sqlite3")
    report = verify_isolation()
    assert report.exit_code == 2, report.as_dict()


def test_monitor_opens_incident_emails_superadmins_and_blocks_creation(
    goteborg, malmo, superadmin, tmp_path
):
    point_at_same_database(malmo, goteborg, tmp_path)
    assert _run("monitor_isolation") == 1
    incident = IsolationIncident.open_incidents().get()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [superadmin.email]
    assert "CRITICAL" in mail.outbox[0].subject
    # a second run while still open: same incident, no second e-mail
    assert _run("monitor_isolation") == 1
    assert IsolationIncident.open_incidents().count() == 1 and len(mail.outbox) == 1
    with pytest.raises(ProvisioningRefused, match="blocked"):
        create_orchestra(ProvisionRequest(subdomain="new", name="New", admin_email="n@example.org"))
    # resolving is refused while the violation remains
    with pytest.raises(CommandError, match="still violated"):
        call_command("resolve_incident", str(incident.pk))
    # fix: give malmo its own database back, then resolve
    Orchestra.objects.filter(pk=malmo.pk).update(
        server=malmo.server,
        database_name=malmo.database_name,
        database_user=malmo.database_user,
        database_password_encrypted=malmo.database_password_encrypted,
    )
    call_command("resolve_incident", str(incident.pk), "--note", "repointed malmo")
    assert not IsolationIncident.open_incidents().exists()
    create_orchestra(ProvisionRequest(subdomain="new", name="New", admin_email="n@example.org"))


def test_check_database(goteborg, malmo, tmp_path, capsys):
    assert _run("check_database", "goteborg") == 0
    assert "OK" in capsys.readouterr().out
    point_at_same_database(malmo, goteborg, tmp_path)
    assert _run("check_database", "malmo") == 1
    out = capsys.readouterr().out
    assert "SHARED with: goteborg" in out and "stamp:      WRONG" in out
    with pytest.raises(CommandError, match="no orchestra"):
        call_command("check_database", "nowhere")


@pytest.mark.django_db(transaction=True)  # the worker closes connections between passes
def test_worker_runs_the_monitor(goteborg, malmo, tmp_path, superadmin):
    point_at_same_database(malmo, goteborg, tmp_path)
    call_command("worker", "--once")
    # Another job of the same pass may meet the wrong stamp first and open its own incident
    # ("refused on use"); the monitor's is the one that names the shared database.
    by_monitor = IsolationIncident.open_incidents().exclude(summary__endswith="(refused on use)")
    assert by_monitor.count() == 1
    assert "shared database" in by_monitor.get().summary


def _make_unreachable(orchestra):
    """Break the orchestra's database the way operators meet it; returns the repair."""
    if orchestra.server.kind == "sqlite":
        path = Path(orchestra.server.url) / orchestra.database_name
        moved = path.with_name(path.name + ".moved-away")
        path.rename(moved)
        return lambda: moved.rename(path)
    nobody = DatabaseServer(name="nobody-listens", kind=DatabaseServer.Kind.POSTGRESQL)
    nobody.set_url(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    nobody.save()
    Orchestra.objects.filter(pk=orchestra.pk).update(server=nobody)
    return lambda: Orchestra.objects.filter(pk=orchestra.pk).update(server=orchestra.server)


def test_monitor_opens_an_unreachable_incident_mails_once_and_closes_it(
    goteborg, malmo, superadmin, mail_server, capsys
):
    repair = _make_unreachable(malmo)
    assert _run("monitor_isolation") == 2
    incident = IsolationIncident.open_unreachable().get()
    assert incident.kind == "unreachable" and incident.orchestra == malmo
    assert "malmo: database unreachable" in capsys.readouterr().out
    # Not an isolation incident: nothing is blocked.
    assert not IsolationIncident.open_incidents().exists()
    mails = mail_server.to(superadmin.email)
    assert len(mails) == 1 and "malmo" in mails[0]["Subject"]
    if malmo.server.kind == "sqlite":  # the check did not create an empty file in its place
        assert not (Path(malmo.server.url) / malmo.database_name).exists()

    assert _run("monitor_isolation") == 2  # still down: same incident, no second mail
    assert IsolationIncident.open_unreachable().count() == 1
    assert len(mail_server.to(superadmin.email)) == 1
    create_orchestra(ProvisionRequest(subdomain="new", name="New", admin_email="n@example.org"))

    repair()
    assert _run("monitor_isolation") == 0
    incident.refresh_from_db()
    assert incident.resolved_at is not None and incident.resolved_by == "monitor"
    assert AuditEvent.objects.filter(
        action="isolation.incident_resolved", orchestra=malmo, details__incident=incident.pk
    ).exists()
    assert len(mail_server.to(superadmin.email)) == 1


def test_resolving_an_unreachable_incident_checks_the_database(goteborg, malmo):
    repair = _make_unreachable(malmo)
    _run("monitor_isolation")
    incident = IsolationIncident.open_unreachable().get()
    with pytest.raises(CommandError, match="still unreachable"):
        call_command("resolve_incident", str(incident.pk))
    repair()
    call_command("resolve_incident", str(incident.pk), "--note", "disk remounted")
    incident.refresh_from_db()
    assert incident.resolved_at is not None and incident.resolution_note == "disk remounted"


def test_a_mail_outage_does_not_stop_the_monitor(goteborg, malmo, superadmin, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    _make_unreachable(malmo)
    assert _run("monitor_isolation") == 2
    assert IsolationIncident.open_unreachable().get().orchestra == malmo


def test_check_database_on_an_orchestra_still_provisioning(db, capsys):
    Orchestra.objects.create(subdomain="young", name="Young", provisioning_step="migrate")
    assert _run("check_database", "young") == 1
    out = capsys.readouterr().out
    assert "still provisioning (step migrate" in out and "not active yet" in out
