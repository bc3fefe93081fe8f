"""The console's fleet pages: servers, incidents (resolve only after a clean check), audit log
with CSV export, jobs and the worker's state. Everything on both backends."""

from __future__ import annotations

import csv
import io
import threading
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import close_old_connections, connection
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from stagesub.superadmin import fleet
from stagesub.superadmin.models import ProvisioningJob
from stagesub.tenancy import audit
from stagesub.tenancy.models import (
    AuditEvent,
    BackupRecord,
    DatabaseServer,
    IsolationIncident,
    Orchestra,
)
from stagesub.web.health import record_worker_heartbeat
from tests.conftest import BACKEND, PASSWORD, host_client, host_for, login, point_at_same_database

FLEET_URLS = [
    "/superadmin/fleet/servers/",
    "/superadmin/fleet/incidents/",
    "/superadmin/fleet/incidents/check/",
    "/superadmin/fleet/incidents/{incident}/",
    "/superadmin/fleet/audit/",
    "/superadmin/fleet/audit.csv",
    "/superadmin/fleet/jobs/",
    "/superadmin/fleet/worker/",
    "/superadmin/signups/",
]


@pytest.fixture
def console(superadmin):
    client = host_client()
    assert client.post("/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    return client


def test_every_fleet_url_is_listed_here():
    # A fleet page added later without being added to FLEET_URLS fails here, so the access
    # test below always covers all of them.
    def names(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from names(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    ours = {
        "/" + n.replace("<int:incident_id>", "{incident}")
        for n in names(get_resolver("stagesub.urls_platform").url_patterns)
        if n.startswith(("superadmin/fleet/", "superadmin/signups/"))
    }
    assert ours == set(FLEET_URLS)


def test_admin_member_and_anonymous_get_nothing_on_any_host(goteborg, malmo):
    incident = IsolationIncident.objects.create(summary="shared database x: a, b")
    audit.record("secret.event", actor_label="someone", note="do not show")
    get_user_model().objects.create_user(
        "gbg-member", password=PASSWORD, role="member", orchestra=goteborg
    )
    visitors = {
        "anonymous": host_client(),
        "admin": login(goteborg, "goteborg-admin"),
        "member": login(goteborg, "gbg-member"),
    }
    for who, client in visitors.items():
        for template in FLEET_URLS:
            url = template.format(incident=incident.pk)
            for host in (host_for(), host_for(goteborg), host_for(malmo)):
                for method in (client.get, client.post):
                    response = method(url, HTTP_HOST=host)
                    body = response.content.decode() if not response.streaming else ""
                    assert response.status_code in (302, 403, 404), (who, url, host)
                    if response.status_code == 302:
                        assert response["Location"].startswith("/login/"), (who, url, host)
                    assert "do not show" not in body and "shared database" not in body
    assert not ProvisioningJob.objects.exists()  # nobody started a check
    incident.refresh_from_db()
    assert incident.resolved_at is None


def test_servers_page_lists_each_server_with_its_orchestras_and_sizes(console, goteborg, malmo):
    broken = DatabaseServer(name="gone", kind=goteborg.server.kind, region="north")
    if BACKEND == "sqlite":
        broken.set_url("/nonexistent/stagesub-data")
    else:
        broken.set_url("postgresql://nobody@127.0.0.1:9/postgres?connect_timeout=2")
    broken.save()
    response = console.get("/superadmin/fleet/servers/")
    assert response.status_code == 200
    overviews = {o.server.name: o for o in response.context["servers"]}
    home = overviews[goteborg.server.name]
    assert home.reachable is True
    assert [o.subdomain for o in home.orchestras] == ["goteborg", "malmo"]
    assert all(o.size_bytes and o.size_bytes > 10_000 for o in home.orchestras)
    assert home.size_bytes == sum(o.size_bytes for o in home.orchestras)
    assert overviews["gone"].reachable is False and overviews["gone"].size_bytes == 0
    page = response.content.decode()
    assert "Göteborgs Symfoniker" in page and "unreachable" in page and "shared" in page


def test_a_hung_server_does_not_hold_the_page(console, goteborg):
    import socket

    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        hung = DatabaseServer(name="hung", kind="postgresql", region="north")
        hung.set_url(f"postgresql://u:p@127.0.0.1:{silent.getsockname()[1]}/postgres")
        hung.save()
        started = timezone.now()
        overviews = fleet.server_overview(timeout=1.0)
        assert (timezone.now() - started).total_seconds() < 3
        state = {o.server.name: o.reachable for o in overviews}
        assert state["hung"] is None and state[goteborg.server.name] is True
    finally:
        silent.close()


# --- incidents ------------------------------------------------------------------------------


def _resolve(console, incident, note="fixed the server entry"):
    return console.post(f"/superadmin/fleet/incidents/{incident.pk}/", {"note": note})


def test_resolve_is_refused_without_a_check_started_after_the_incident(console, goteborg):
    fleet.check_and_record("root")  # clean, but before the incident
    incident = IsolationIncident.objects.create(summary="shared database x: a, b")
    response = _resolve(console, incident)
    assert response.status_code == 409
    assert "Run an isolation check from the console first" in response.content.decode()
    incident.refresh_from_db()
    assert incident.resolved_at is None
    assert not AuditEvent.objects.filter(action="isolation.incident_resolved").exists()


def test_resolve_after_a_clean_check_and_refused_while_violated(console, goteborg, malmo, tmp_path):
    saved = {
        f: getattr(malmo, f)
        for f in ("server_id", "database_name", "database_user", "database_password_encrypted")
    }
    point_at_same_database(malmo, goteborg, tmp_path)
    incident = IsolationIncident.objects.create(summary="shared database: goteborg, malmo")
    fleet.check_and_record("root")
    response = _resolve(console, incident)
    assert response.status_code == 409
    assert "still finds isolation violated" in response.content.decode()
    Orchestra.objects.filter(pk=malmo.pk).update(**saved)  # the operator fixes the entry
    fleet.check_and_record("root")
    assert _resolve(console, incident, note="").status_code == 400  # the note is required
    response = _resolve(console, incident)
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.resolved_at and incident.resolved_by == "root"
    assert incident.resolution_note == "fixed the server entry"
    timeline = [e.what for e in fleet.incident_timeline(incident)]
    assert timeline[0] == "Opened" and timeline[-1] == "Resolved by root"
    assert sum(w.startswith("Isolation check") for w in timeline) == 2
    assert _resolve(console, incident).status_code == 409  # already resolved


def test_an_unreachable_incident_needs_a_check_that_reached_the_database(console, goteborg):
    incident = IsolationIncident.objects.create(
        kind="unreachable", orchestra=goteborg, summary="goteborg unreachable"
    )
    AuditEvent.objects.create(
        action=fleet.CHECK_ACTION,
        actor_label="root",
        details={
            "started_at": timezone.now().isoformat(),
            "clean": True,
            "violations": [],
            "unreachable": ["goteborg"],
        },
    )
    assert "could still not reach goteborg" in _resolve(console, incident).content.decode()
    fleet.check_and_record("root")
    assert _resolve(console, incident).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_check_from_the_console_runs_in_the_worker_and_allows_resolving(console, goteborg):
    incident = IsolationIncident.objects.create(summary="shared database x: a, b")
    response = console.post("/superadmin/fleet/incidents/check/", {"incident": incident.pk})
    assert response["Location"] == f"/superadmin/fleet/incidents/{incident.pk}/"
    # A second click while the first waits starts nothing more.
    console.post("/superadmin/fleet/incidents/check/")
    assert ProvisioningJob.objects.filter(kind="isolation_check").count() == 1
    page = console.get(f"/superadmin/fleet/incidents/{incident.pk}/").content.decode()
    assert "queued" in page and "disabled" in page
    call_command("worker", "--once")
    page = console.get(f"/superadmin/fleet/incidents/{incident.pk}/").content.decode()
    assert "clean" in page
    assert _resolve(console, incident).status_code == 302
    jobs = console.get("/superadmin/fleet/jobs/").context["jobs"]
    assert [(j.kind, j.status) for j in jobs if j.kind == "isolation check"] == [
        ("isolation check", "succeeded")
    ]


@pytest.mark.django_db(transaction=True)
def test_two_superadmins_resolving_at_once_close_it_once(goteborg):
    incident = IsolationIncident.objects.create(summary="shared database x: a, b")
    fleet.check_and_record("root")
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def resolve(who: str) -> None:
        try:
            barrier.wait()
            fleet.resolve_incident(incident.pk, by=who, note=f"{who} fixed it")
            outcomes.append("resolved")
        except fleet.ResolveRefused:
            outcomes.append("refused")
        except Exception as exc:  # SQLite: the loser may find the database locked
            outcomes.append(f"error: {type(exc).__name__}")
        finally:
            connection.close()

    threads = [threading.Thread(target=resolve, args=(w,)) for w in ("anna", "bo")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    close_old_connections()
    assert outcomes.count("resolved") == 1, outcomes
    assert AuditEvent.objects.filter(action="isolation.incident_resolved").count() == 1


# --- audit log ------------------------------------------------------------------------------


def _events(goteborg, malmo):
    now = timezone.now()
    rows = [
        ("login.refused", "anna", goteborg, now - timedelta(days=3), {}),
        ("server.added", "root", None, now - timedelta(days=1), {"server": "pg-1"}),
        ("signup.requested", '=HYPERLINK("http://x")', None, now, {"email": "+1@x.se"}),
        ("signup.confirmed", "-2+3", malmo, now, {"note": "@SUM(A1)"}),
    ]
    for action, actor, orchestra, at, details in rows:
        event = audit.record(action, actor_label=actor, orchestra=orchestra, **details)
        AuditEvent.objects.filter(pk=event.pk).update(at=at)


def test_audit_filters_in_the_database(console, goteborg, malmo):
    AuditEvent.objects.all().delete()  # provisioning's own events
    _events(goteborg, malmo)

    def actions(query: str) -> list[str]:
        response = console.get(f"/superadmin/fleet/audit/?{query}")
        assert response.status_code == 200
        return [e.action for e in response.context["page"]]

    everything = actions("")
    assert everything[2:] == ["server.added", "login.refused"]  # newest first
    assert set(everything[:2]) == {"signup.confirmed", "signup.requested"}
    assert actions("orchestra=goteborg") == ["login.refused"]
    assert actions("orchestra=MALMO") == ["signup.confirmed"]
    assert actions("user=ROOT") == ["server.added"]
    assert sorted(actions("event=signup.")) == ["signup.confirmed", "signup.requested"]
    assert actions("event=server.added") == ["server.added"]
    day = timezone.localdate()
    assert sorted(actions(f"since={day - timedelta(days=1)}")) == [
        "server.added",
        "signup.confirmed",
        "signup.requested",
    ]
    assert actions(f"until={day - timedelta(days=2)}") == ["login.refused"]
    bad = console.get("/superadmin/fleet/audit/?since=yesterday")
    assert bad.status_code == 400 and "error-summary" in bad.content.decode()
    reversed_range = console.get(
        f"/superadmin/fleet/audit/?since={day}&until={day - timedelta(days=1)}"
    )
    assert reversed_range.status_code == 400


def test_audit_pages_are_read_in_slices(console, goteborg):
    AuditEvent.objects.bulk_create(
        [AuditEvent(action="bulk.event", actor_label=f"u{i}") for i in range(120)]
    )
    first = console.get("/superadmin/fleet/audit/?event=bulk.event")
    third = console.get("/superadmin/fleet/audit/?event=bulk.event&page=3")
    assert len(first.context["page"].object_list) == 50
    assert len(third.context["page"].object_list) == 20
    assert 'href="?event=bulk.event&amp;page=2"' in first.content.decode()


def test_audit_csv_is_streamed_filtered_and_safe_for_spreadsheets(console, goteborg, malmo):
    _events(goteborg, malmo)
    response = console.get("/superadmin/fleet/audit.csv?event=signup.")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == fleet.AUDIT_COLUMNS
    by_event = {r[1]: r for r in rows[1:]}
    assert set(by_event) == {"signup.requested", "signup.confirmed"}
    assert by_event["signup.requested"][2] == '\'=HYPERLINK("http://x")'
    assert by_event["signup.confirmed"][2] == "'-2+3"
    assert by_event["signup.confirmed"][3] == "malmo"
    for row in rows[1:]:
        assert all(not cell.startswith(fleet.FORMULA_STARTS) for cell in row)


def test_spreadsheet_safe():
    assert fleet.spreadsheet_safe("=1+1") == "'=1+1"
    assert fleet.spreadsheet_safe("@x") == "'@x"
    assert fleet.spreadsheet_safe("\t=x") == "'\t=x"
    assert fleet.spreadsheet_safe("anna") == "anna"
    assert fleet.spreadsheet_safe(None) == ""


# --- jobs and worker ------------------------------------------------------------------------


def test_jobs_list_shows_every_kind_with_progress_and_log(console, goteborg):
    ProvisioningJob.objects.create(
        subdomain="uppsala",
        name="Uppsala",
        contact_email="e@x.se",
        status="failed",
        current_step="migrate",
        steps_done=["validate", "reserve", "create_database"],
        error="disk full",
    )
    BackupRecord.objects.create(
        orchestra=goteborg, orchestra_label="goteborg", started_at=timezone.now(), outcome="ok"
    )
    Orchestra.objects.filter(pk=goteborg.pk).update(
        operation="move", operation_started_at=timezone.now(), operation_owner="host:42"
    )
    response = console.get("/superadmin/fleet/jobs/")
    jobs = {(j.kind, j.subject): j for j in response.context["jobs"]}
    provisioning = jobs[("provisioning", "uppsala")]
    assert provisioning.status == "failed" and "disk full" in provisioning.log
    assert provisioning.progress.startswith("3/")
    assert jobs[("backup (by hand)", "goteborg")].status == "succeeded"
    assert jobs[("move", "goteborg")].status == "running"
    assert "disk full" in response.content.decode()


def test_worker_state_heartbeat_and_queue_depths(console, goteborg, malmo, settings):
    page = console.get("/superadmin/fleet/worker/")
    assert page.context["state"].heartbeat_at is None
    assert "no heartbeat yet" in page.content.decode()
    record_worker_heartbeat("w-1")
    from stagesub.superadmin.tasks import run_provisioning_job

    run_provisioning_job.enqueue("00000000-0000-0000-0000-000000000001")
    run_provisioning_job.enqueue("00000000-0000-0000-0000-000000000002")
    past = timezone.now() - timedelta(minutes=5)
    Orchestra.objects.filter(pk=goteborg.pk).update(next_due_at=past)
    Orchestra.objects.filter(pk=malmo.pk).update(next_due_at=timezone.now() + timedelta(hours=1))
    state = console.get("/superadmin/fleet/worker/").context["state"]
    assert state.fresh and state.worker_id == "w-1" and state.heartbeat_age < 5
    assert state.tasks_waiting == 2 and state.oldest_task_at is not None
    assert state.orchestras_due == 1 and state.oldest_due_at == past
    settings.WORKER_HEARTBEAT_STALE = 1
    later = fleet.worker_state(now=timezone.now() + timedelta(seconds=5))
    assert not later.fresh
