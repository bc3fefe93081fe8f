"""The superadmin console: list, create with progress, the one-time password."""

import pytest
from django.core.management import call_command

from stagesub.superadmin.models import ProvisioningJob
from stagesub.superadmin.services import run_job
from stagesub.tenancy.models import IsolationIncident, Orchestra
from tests.conftest import PASSWORD, host_client, login


@pytest.fixture
def console(superadmin):
    client = host_client()
    assert client.post("/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    return client


FORM = {
    "name": "Uppsala Kammarorkester",
    "subdomain": "uppsala",
    "contact_name": "Eva",
    "contact_email": "eva@uppsala.example.org",
    "admin_username": "",
    "plan": "medium",
}


def test_create_orchestra_from_the_console(console):
    response = console.post("/superadmin/orchestras/new/", FORM)
    job = ProvisioningJob.objects.get()
    assert response["Location"] == f"/superadmin/orchestras/jobs/{job.pk}/"
    queued = console.get(response["Location"]).content.decode()
    assert "stagesub worker" in queued and 'hx-trigger="every 1s"' in queued
    run_job(job.pk)
    page = console.get(f"/superadmin/orchestras/jobs/{job.pk}/progress/").content.decode()
    job.refresh_from_db()
    assert job.status == "succeeded" and "uppsala-admin" in page
    password = page.split('<span class="secret">')[1].split("</span>")[0]
    orchestra = Orchestra.objects.get(subdomain="uppsala")
    assert orchestra.status == "active"
    # the password works, and is never shown again
    assert login(orchestra, "uppsala-admin", password)
    again = console.get(f"/superadmin/orchestras/jobs/{job.pk}/").content.decode()
    assert password not in again and "no longer stored" in again
    assert 'hx-trigger="every 1s"' not in again
    assert "uppsala" in console.get("/superadmin/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_worker_runs_queued_provisioning(console):
    console.post("/superadmin/orchestras/new/", FORM)
    call_command("worker", "--once")
    assert ProvisioningJob.objects.get().status == "succeeded"


def test_refusals_shown_next_to_the_field(console, goteborg):
    response = console.post("/superadmin/orchestras/new/", {**FORM, "subdomain": "goteborg"})
    assert "Göteborgs Symfoniker" in " ".join(response.context["form"].errors["subdomain"])
    response = console.post("/superadmin/orchestras/new/", {**FORM, "subdomain": "Bad Name!"})
    assert response.context["form"].errors["subdomain"]
    response = console.post("/superadmin/orchestras/new/", {**FORM, "subdomain": "www"})
    assert response.context["form"].errors["subdomain"]
    assert not ProvisioningJob.objects.exists()


def test_open_incident_blocks_the_form(console):
    IsolationIncident.objects.create(summary="shared database x: a, b")
    page = console.get("/superadmin/").content.decode()
    assert "incident" in page.lower()
    response = console.post("/superadmin/orchestras/new/", FORM)
    assert response.status_code == 200 and response.context["form"].non_field_errors()


def test_failed_job_reports_and_leaves_nothing(console):
    console.post("/superadmin/orchestras/new/", FORM)
    job = ProvisioningJob.objects.get()
    Orchestra.objects.create(subdomain="uppsala", name="Taken meanwhile", status="active")
    run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "already taken" in job.error
    assert "rolled back" in console.get(f"/superadmin/orchestras/jobs/{job.pk}/").content.decode()


def test_console_refuses_non_superadmins(goteborg):
    assert host_client().get("/superadmin/").status_code == 302  # anonymous → login
    # an orchestra admin cannot even log in on the platform host
    response = host_client().post("/login/", {"username": "goteborg-admin", "password": PASSWORD})
    assert response.status_code == 200
    # and the console does not exist on an orchestra's host
    assert login(goteborg, "goteborg-admin").get("/superadmin/").status_code == 404


def test_console_never_shows_database_secrets(console, goteborg):
    page = console.get("/superadmin/").content.decode()
    assert goteborg.database_name in page
    assert goteborg.server.url not in page
    if goteborg.database_password_encrypted:
        from stagesub.crypto import decrypt_secret

        assert decrypt_secret(goteborg.database_password_encrypted) not in page
