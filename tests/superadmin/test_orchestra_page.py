"""An orchestra's console page: every snapshot field, isolation history, jobs (check, migrate,
test e-mail, decommission) whose results appear on the page, details and plan, suspension with
a reason, and a second action refused while one runs."""

import threading

import pytest
from django.db import connections as django_connections

from stagesub.superadmin import actions
from stagesub.superadmin.models import ProvisioningJob, StatsSnapshot
from stagesub.superadmin.services import run_job
from stagesub.superadmin.stats import refresh_snapshot
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.binding import directory
from stagesub.tenancy.context import current_binding
from stagesub.tenancy.models import AuditEvent, IsolationIncident, MigrationState, Orchestra
from stagesub.tenancy.operations import exclusive_operation
from tests.conftest import PASSWORD, host_client, login


@pytest.fixture
def console(superadmin):
    client = host_client()
    assert client.post("/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    return client


def _url(orchestra, action=""):
    return f"/superadmin/orchestras/{orchestra.subdomain}/{action + '/' if action else ''}"


def _run_queued() -> list[ProvisioningJob]:
    return [
        run_job(pk)
        for pk in ProvisioningJob.objects.filter(status="queued").values_list("pk", flat=True)
    ]


def test_page_shows_the_snapshot_and_the_isolation_history(console, goteborg):
    refresh_snapshot(goteborg)
    IsolationIncident.objects.create(
        kind="unreachable", orchestra=goteborg, summary="goteborg: no answer within 10 s"
    )
    page = console.get(_url(goteborg)).content.decode()
    snapshot = StatsSnapshot.objects.get(orchestra=goteborg)
    for text in (
        "Reachable",
        "Identity stamp",
        "correct",
        "Database size",
        "Median time to answer",
    ):
        assert text in page
    assert f"{snapshot.staff_users} / " in page  # usage against the plan's limit
    assert "goteborg: no answer within 10 s" in page and "database unreachable" in page
    assert "stale" not in page
    assert console.get("/superadmin/orchestras/nowhere/").status_code == 404


def test_check_database_runs_as_a_job_and_its_result_appears_on_the_page(console, goteborg):
    response = console.post(_url(goteborg, "check"))
    assert response.status_code == 302
    # A second click while it waits is refused, naming why.
    again = console.post(_url(goteborg, "check"))
    assert again.status_code == 409 and "already queued or running" in again.content.decode()
    (job,) = _run_queued()
    assert job.status == "succeeded" and job.result["stamp_ok"] and job.result["reachable"]
    page = console.get(_url(goteborg)).content.decode()
    assert "isolated (own stamp, own database)" in page and "reachable=True" in page
    assert StatsSnapshot.objects.get(orchestra=goteborg).reachable  # refreshed with it
    job_page = console.get(f"/superadmin/orchestras/jobs/{job.pk}/").content.decode()
    assert "Database check: Göteborgs Symfoniker" in job_page and "reachable=True" in job_page
    assert "Creating" not in job_page and "Password" not in job_page


def _unapply_latest_migration(orchestra) -> None:
    """Take the orchestra's database one real migration back: the code is now ahead of it."""
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.operations import RunPython

    from stagesub.tenancy.sides import is_orchestra_app

    with use_orchestra(orchestra):
        executor = MigrationExecutor(django_connections[current_binding().alias])
        graph = executor.loader.graph
        for leaf in graph.leaf_nodes():
            parents = [p.key for p in graph.node_map[leaf].parents if p.key[0] == leaf[0]]
            operations = graph.nodes[leaf].operations
            if (
                is_orchestra_app(leaf[0])
                and parents
                and not any(isinstance(op, RunPython) for op in operations)
            ):
                executor.migrate([parents[0]])
                return
    raise AssertionError("no orchestra migration to take back")


def test_migrate_now_brings_the_database_to_the_code(console, goteborg):
    _unapply_latest_migration(goteborg)
    assert refresh_snapshot(goteborg).pending_migrations == 1
    assert console.post(_url(goteborg, "migrate")).status_code == 302
    (job,) = _run_queued()
    assert job.status == "succeeded", job.error
    assert refresh_snapshot(goteborg).pending_migrations == 0
    assert MigrationState.objects.get(orchestra=goteborg).status == "ok"
    assert Orchestra.objects.get(pk=goteborg.pk).maintenance_reason == ""


def test_test_email_goes_out_with_the_orchestras_sender(console, goteborg, mail_server):
    from stagesub.messaging.models import SenderSettings

    with use_orchestra(goteborg):
        SenderSettings.objects.create(sender_name="GSO kansliet", reply_to="kansli@gso.example")
    bad = console.post(_url(goteborg, "test-email"), {"to": "a b@c.se"})
    assert bad.status_code == 400 and 'data-testid="error-summary"' in bad.content.decode()
    assert console.post(_url(goteborg, "test-email"), {"to": "ops@example.org"}).status_code == 302
    (job,) = _run_queued()
    assert job.status == "succeeded", job.error
    (message,) = mail_server.to("ops@example.org")
    assert "GSO kansliet" in message["From"]
    assert message["Reply-To"] == "kansli@gso.example"


def test_edit_details_refuses_line_breaks_and_keeps_nothing_half_written(console, goteborg):
    response = console.post(
        _url(goteborg, "edit"),
        {"name": "Evil\r\nBcc: all@example.org", "contact_email": "new@example.org"},
    )
    assert response.status_code == 400
    goteborg.refresh_from_db()
    assert goteborg.name == "Göteborgs Symfoniker" and goteborg.contact_email != "new@example.org"
    response = console.post(
        _url(goteborg, "edit"),
        {"name": "GSO", "contact_name": "Eva", "contact_email": "eva@gso.example"},
    )
    assert response.status_code == 302
    goteborg.refresh_from_db()
    assert (goteborg.name, goteborg.contact_email) == ("GSO", "eva@gso.example")
    assert AuditEvent.objects.filter(action="orchestra.edited", orchestra=goteborg).exists()


def test_suspend_with_a_reason_shows_the_platform_contact_then_reactivate(
    console, goteborg, settings
):
    staff = login(goteborg, "goteborg-admin")
    assert console.post(_url(goteborg, "suspend"), {"reason": ""}).status_code == 400
    assert console.post(_url(goteborg, "suspend"), {"reason": "unpaid\ninvoice"}).status_code == 400
    assert Orchestra.objects.get(pk=goteborg.pk).status == "active"

    assert console.post(_url(goteborg, "suspend"), {"reason": "Unpaid invoice"}).status_code == 302
    directory.forget()
    response = staff.get("/")
    assert response.status_code == 403
    assert settings.PLATFORM_CONTACT in response.content.decode()
    page = console.get(_url(goteborg)).content.decode()
    assert "Unpaid invoice" in page and "Reactivate" in page
    event = AuditEvent.objects.get(action="orchestra.suspended")
    assert event.details["reason"] == "Unpaid invoice" and event.actor.username == "root"

    assert console.post(_url(goteborg, "reactivate"), {"reason": "Paid"}).status_code == 302
    directory.forget()
    assert staff.get("/").status_code == 200


def test_a_second_action_is_refused_while_an_operation_runs(console, goteborg):
    with exclusive_operation(goteborg, "restore"):
        for action, data in (
            ("edit", {"name": "Other"}),
            ("plan", {"plan": "small"}),
            ("suspend", {"reason": "test"}),
            ("migrate", {}),
            ("decommission", {"confirm": "goteborg"}),
        ):
            response = console.post(_url(goteborg, action), data)
            assert response.status_code == 409, action
            assert "restore" in response.content.decode()
    goteborg.refresh_from_db()
    assert (goteborg.name, goteborg.plan, goteborg.status) == (
        "Göteborgs Symfoniker",
        "medium",
        "active",
    )
    assert not ProvisioningJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_once_start_one_job(goteborg, superadmin):
    barrier = threading.Barrier(4)
    started, refused, errors = [], [], []

    def click():
        try:
            barrier.wait()
            started.append(
                actions.start_job(goteborg, ProvisioningJob.Kind.MIGRATE, actor=superadmin)
            )
        except actions.ActionRefused as exc:
            refused.append(exc)
        except Exception as exc:  # reported below: a thread's exception would be lost
            errors.append(exc)
        finally:
            django_connections.close_all()

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(started) == 1 and len(refused) == 3
    assert ProvisioningJob.objects.filter(orchestra=goteborg, kind="migrate").count() == 1


def test_decommission_needs_the_typed_subdomain(console, goteborg):
    response = console.post(_url(goteborg, "decommission"), {"confirm": "Goteborg"})
    assert response.status_code == 400 and "Type goteborg exactly" in response.content.decode()
    assert not ProvisioningJob.objects.exists()
    assert console.post(_url(goteborg, "decommission"), {"confirm": "goteborg"}).status_code == 302
    (job,) = _run_queued()
    assert job.status == "succeeded", job.error
    assert Orchestra.objects.get(pk=goteborg.pk).status == "archived"
    page = console.get(_url(goteborg)).content.decode()
    assert "Decommission orchestra" not in page and "archived" in page


def test_suspension_is_announced_to_every_web_process(goteborg, superadmin):
    # Other processes poll the routing generation, not this process's host cache: a suspension
    # must move it, or they keep serving the orchestra until their cache expires.
    from stagesub.tenancy.models import RoutingGeneration

    def generation() -> int:
        row = RoutingGeneration.objects.first()
        return row.value if row else 0

    before = generation()
    actions.set_suspended(goteborg, True, "unpaid invoice", actor=superadmin)
    assert generation() > before
    after_suspend = generation()
    actions.set_suspended(goteborg, False, "paid", actor=superadmin)
    assert generation() > after_suspend
