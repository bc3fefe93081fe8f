"""Provisioning: complete orchestras, refusals, and nothing left behind by a failure."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from stagesub.orchestra.models import DatabaseStamp
from stagesub.tenancy import schema, use_orchestra
from stagesub.tenancy.backends import (
    PostgresBackend,
    backend_for,
    default_server,
    new_database_name,
)
from stagesub.tenancy.isolation import monitor_isolation, verify_isolation
from stagesub.tenancy.models import (
    AuditEvent,
    DatabaseServer,
    IsolationIncident,
    MigrationState,
    Orchestra,
)
from stagesub.tenancy.provisioning import (
    PROVISION_STEPS,
    SWEPT_STEP,
    ProvisioningAbandoned,
    ProvisioningRefused,
    ProvisionRequest,
    create_orchestra,
    sweep_stale_provisionings,
)
from stagesub.tenancy.seeding import _seed_steps, seed_step
from tests.conftest import PASSWORD
from tests.mailserver import free_port


def _request(subdomain="goteborg", **kwargs):
    kwargs.setdefault("admin_password", PASSWORD)
    return ProvisionRequest(
        subdomain=subdomain, name="Göteborgs Symfoniker", admin_email="a@example.org", **kwargs
    )


def _databases_on_server(server) -> set[str]:
    backend = backend_for(server)
    if isinstance(backend, PostgresBackend):
        with backend.connect_admin() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'stagesub\\_%%'"
            ).fetchall()
        return {
            r[0] for r in rows if not r[0].startswith(("stagesub_template_", "stagesub_spare_"))
        }
    return {p.name for p in backend.directory.glob("*.sqlite3")}


def _roles_on_server(server) -> set[str]:
    backend = backend_for(server)
    if not isinstance(backend, PostgresBackend):
        return set()
    with backend.connect_admin() as conn:
        return {
            r[0]
            for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'stagesub\\_%%'")
        }


def test_provisioned_orchestra_is_complete(db, backend):
    steps = []
    result = create_orchestra(_request(), progress=steps.append)
    orchestra = result.orchestra
    assert steps == [key for key, _ in PROVISION_STEPS]
    assert orchestra.status == Orchestra.Status.ACTIVE
    assert orchestra.server.kind == backend
    assert "goteborg" in orchestra.database_name
    assert MigrationState.objects.get(orchestra=orchestra).status == MigrationState.Status.OK
    admin = get_user_model().objects.get(username="goteborg-admin")
    assert admin.role == "admin" and admin.orchestra == orchestra
    assert admin.check_password(PASSWORD)
    with use_orchestra(orchestra):
        assert DatabaseStamp.objects.get().orchestra_id == orchestra.id
    if backend == "postgresql":
        assert orchestra.database_user and orchestra.database_password_encrypted
        assert orchestra.database_password_encrypted.find(orchestra.database_user) == -1


def test_generated_password_when_none_given(db, monkeypatch):
    monkeypatch.delenv("STAGESUB_ADMIN_PASSWORD", raising=False)
    result = create_orchestra(_request(admin_password=None))
    assert result.password_generated and len(result.admin_password) >= 16
    assert (
        get_user_model()
        .objects.get(username="goteborg-admin")
        .check_password(result.admin_password)
    )


@pytest.mark.parametrize("failing_step", [key for key, _ in PROVISION_STEPS if key != "validate"])
def test_failure_at_any_step_leaves_nothing_behind(db, failing_step):
    server = default_server()
    databases_before = _databases_on_server(server)
    roles_before = _roles_on_server(server)

    def progress(step):
        if step == failing_step:
            raise RuntimeError(f"injected failure at {step}")

    with pytest.raises(RuntimeError, match="injected"):
        create_orchestra(_request(), progress=progress)
    assert not Orchestra.objects.filter(subdomain="goteborg").exists()
    assert not get_user_model().objects.filter(username="goteborg-admin").exists()
    assert _databases_on_server(server) == databases_before
    assert _roles_on_server(server) == roles_before


def test_failing_seed_step_rolls_back(db):
    @seed_step("tests.broken", order=999)
    def broken(orchestra):
        raise ValueError("seed data is broken")

    try:
        with pytest.raises(ValueError, match="seed data is broken"):
            create_orchestra(_request())
    finally:
        _seed_steps.pop("tests.broken")
    assert not Orchestra.objects.filter(subdomain="goteborg").exists()


@pytest.mark.parametrize(
    ("subdomain", "message"),
    [
        ("Bad_Name", "invalid subdomain"),
        ("www", "reserved"),
        ("-x", "invalid"),
        ("a" * 41, "invalid"),
    ],
)
def test_invalid_subdomains_refused(db, subdomain, message):
    with pytest.raises(ProvisioningRefused, match=message):
        create_orchestra(_request(subdomain))


def test_taken_subdomain_refused_naming_the_holder(goteborg):
    with pytest.raises(ProvisioningRefused, match="already taken by Göteborgs Symfoniker"):
        create_orchestra(_request("goteborg", admin_username="other"))


def test_open_isolation_incident_blocks_new_orchestras(db):
    incident = IsolationIncident.objects.create(summary="shared database x: a, b")
    with pytest.raises(ProvisioningRefused, match=f"incident #{incident.pk}"):
        create_orchestra(_request())
    with pytest.raises(CommandError, match="blocked"):
        call_command("create_orchestra", subdomain="x1", name="X", admin_email="x@example.org")


def test_adopting_a_database_used_by_another_orchestra_is_refused(goteborg, backend):
    url = _url_of(goteborg)
    with pytest.raises(ProvisioningRefused, match="goteborg"):
        create_orchestra(_request("other", admin_username="o", database_url=url))
    assert not Orchestra.objects.filter(subdomain="other").exists()


def test_adopting_the_same_database_under_another_spelling_is_refused(goteborg, backend, tmp_path):
    # The same database reached by a different URL text: caught by stamp / physical identity.
    if backend == "sqlite":
        link = tmp_path / "elsewhere"
        link.symlink_to(goteborg.server.url)
        url = f"sqlite:///{link / goteborg.database_name}"
    else:
        from stagesub.urlconfig import database_settings

        admin = database_settings(goteborg.server.url)
        url = f"postgresql://postgres@/{goteborg.database_name}?host={admin['HOST']}&application_name=x"
    with pytest.raises(ProvisioningRefused, match="Göteborgs Symfoniker"):
        create_orchestra(_request("other", admin_username="o", database_url=url))
    assert not Orchestra.objects.filter(subdomain="other").exists()


def test_create_orchestra_command(db, capsys):
    call_command(
        "create_orchestra", subdomain="uppsala", name="Uppsala", admin_email="u@example.org"
    )
    out = capsys.readouterr().out
    assert "uppsala-admin" in out and "shown once" in out
    with pytest.raises(CommandError, match="already taken"):
        call_command(
            "create_orchestra", subdomain="uppsala", name="Uppsala", admin_email="u@example.org"
        )


def _url_of(orchestra) -> str:
    if orchestra.server.kind == "sqlite":
        return f"sqlite:///{orchestra.server.url}/{orchestra.database_name}"
    base = orchestra.server.url
    return base.replace("/postgres?", f"/{orchestra.database_name}?")


# --- crash safety: heartbeat, sweep, provisioning never a violation ---------------------------


def test_an_orchestra_still_provisioning_is_never_an_isolation_violation(db, superadmin):
    reports = {}

    def progress(step):
        # "migrate": the database exists without its stamp; "seed": stamped, not yet active.
        if step in ("migrate", "seed"):
            reports[step] = verify_isolation()
            monitor_isolation()

    create_orchestra(_request(), progress=progress)
    for step, report in reports.items():
        assert report.exit_code == 0, (step, report.as_dict())
        assert [c.skipped for c in report.checks] == ["provisioning"], step
    assert not IsolationIncident.objects.exists()


def test_a_fresh_provisioning_is_not_swept(db):
    swept = []
    create_orchestra(
        _request(),
        progress=lambda step: step == "seed" and swept.extend(sweep_stale_provisionings()),
    )
    assert swept == []
    assert Orchestra.objects.get(subdomain="goteborg").status == Orchestra.Status.ACTIVE


def test_a_provisioning_swept_while_alive_stops_and_leaves_nothing(db):
    server = default_server()
    databases_before, roles_before = _databases_on_server(server), _roles_on_server(server)
    swept = []

    def progress(step):
        if step == "create_admin":  # a process that paused longer than the stale limit
            swept.extend(sweep_stale_provisionings(stale_after=0))

    with pytest.raises(ProvisioningAbandoned, match="swept"):
        create_orchestra(_request(), progress=progress)
    assert [s.subdomain for s in swept] == ["goteborg"] and not swept[0].error
    assert not Orchestra.objects.filter(subdomain="goteborg").exists()
    assert not get_user_model().objects.filter(username="goteborg-admin").exists()
    assert _databases_on_server(server) == databases_before
    assert _roles_on_server(server) == roles_before
    event = AuditEvent.objects.get(action="orchestra.provisioning_swept")
    assert event.orchestra_label == "goteborg" and event.details["last_step"] == "create_admin"
    create_orchestra(_request())  # the subdomain is free again


@pytest.mark.parametrize("claimed_at", ["create_admin", "activate"])
def test_a_row_claimed_by_a_sweeper_is_never_activated(db, claimed_at):
    # A sweeper has claimed the row (and is still dropping the database) when the slow
    # provisioning process reaches its next heartbeat, or its activation.
    def progress(step):
        if step == claimed_at:
            Orchestra.objects.filter(subdomain="goteborg").update(provisioning_step=SWEPT_STEP)

    with pytest.raises(ProvisioningAbandoned, match="swept"):
        create_orchestra(_request(), progress=progress)
    assert not Orchestra.objects.filter(subdomain="goteborg").exists()
    assert not get_user_model().objects.filter(username="goteborg-admin").exists()


def test_a_stuck_subdomain_is_refused_with_the_way_out(db):
    Orchestra.objects.create(
        subdomain="goteborg",
        name="G",
        provisioning_step="seed",
        provisioning_heartbeat_at=timezone.now(),
    )
    with pytest.raises(ProvisioningRefused, match=r"being provisioned.*sweep_provisioning"):
        create_orchestra(_request())


def test_sweep_of_a_row_left_by_an_older_version_finds_the_database_by_its_name(
    make_orchestra, backend
):
    server = default_server()
    neighbour = make_orchestra("legacy-x")  # stagesub_legacy_x_…: must not match "legacy"
    backend_ = backend_for(server)
    name = new_database_name("legacy")
    if isinstance(backend_, PostgresBackend):
        backend_.create_from_template(name, schema.pg_template(backend_), name, "pw-123456789")
    else:
        name += ".sqlite3"
        backend_.create_from_template(name, schema.sqlite_template(backend_))
    # What a killed provisioning looked like before heartbeats: no location, no heartbeat.
    row = Orchestra.objects.create(subdomain="legacy", name="Legacy")
    Orchestra.objects.filter(pk=row.pk).update(updated_at=timezone.now() - timedelta(hours=1))

    swept = sweep_stale_provisionings()
    assert [s.subdomain for s in swept] == ["legacy"]
    assert not backend_.exists(name)
    if isinstance(backend_, PostgresBackend):
        assert not backend_.role_exists(name)
    assert not Orchestra.objects.filter(subdomain="legacy").exists()
    assert backend_.exists(neighbour.database_name)
    assert verify_isolation().exit_code == 0


def test_sweep_provisioning_command(db, capsys):
    Orchestra.objects.create(
        subdomain="stuck",
        name="Stuck",
        provisioning_step="reserve",
        provisioning_heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    call_command("sweep_provisioning")
    out = capsys.readouterr().out
    assert "stuck: swept (last step reserve)" in out and "1 stale provisioning(s) swept" in out
    assert not Orchestra.objects.filter(subdomain="stuck").exists()


def test_a_refused_database_url_leaves_no_server_row(goteborg, backend, tmp_path):
    servers_before = set(DatabaseServer.objects.values_list("pk", flat=True))
    # The same database under another spelling: a new server row would be registered for it.
    if backend == "sqlite":
        link = tmp_path / "elsewhere"
        link.symlink_to(goteborg.server.url)
        same = f"sqlite:///{link / goteborg.database_name}"
        garbage = tmp_path / "not-a-database.sqlite3"
        garbage.write_text("not SQLite")
        broken = f"sqlite:///{garbage}"
    else:
        from stagesub.urlconfig import database_settings

        admin = database_settings(goteborg.server.url)
        same = f"postgresql://postgres@/{goteborg.database_name}?host={admin['HOST']}&application_name=x"
        broken = f"postgresql://someone:secret-password@127.0.0.1:{free_port()}/elsewhere"
    for url, message in [(same, "Göteborgs Symfoniker"), (broken, "cannot connect")]:
        with pytest.raises(ProvisioningRefused, match=message):
            create_orchestra(_request("other", admin_username="o", database_url=url))
        assert set(DatabaseServer.objects.values_list("pk", flat=True)) == servers_before, url
        assert not Orchestra.objects.filter(subdomain="other").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweepers_sweep_each_row_once():
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    long_ago = timezone.now() - timedelta(hours=1)
    for i in range(4):
        Orchestra.objects.create(
            subdomain=f"stuck{i}",
            name=f"Stuck {i}",
            provisioning_step="reserve",
            provisioning_heartbeat_at=long_ago,
        )

    def sweep(_):
        try:
            return [s.subdomain for s in sweep_stale_provisionings(actor_label="t")]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        swept = [name for names in pool.map(sweep, range(4)) for name in names]
    assert sorted(swept) == [f"stuck{i}" for i in range(4)]
    assert AuditEvent.objects.filter(action="orchestra.provisioning_swept").count() == 4
    assert not Orchestra.objects.exists()
