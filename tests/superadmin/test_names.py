"""Orchestra names with line breaks or control characters are refused where they are typed."""

import pytest
from django.core.management import CommandError, call_command

from stagesub.superadmin.models import ProvisioningJob
from stagesub.tenancy.models import Orchestra
from tests.conftest import PASSWORD, host_client

BAD_NAMES = [
    "Göteborgs Symfoniker\r\nBcc: everyone@example.org",
    "Malmö\nOpera",
    "Tab\there",
    "Null\x00byte",
    "Evil\u202eredaeh",  # right-to-left override: displays as something else
    "Line\u2028separator",
]


@pytest.fixture
def console(superadmin):
    client = host_client()
    assert client.post("/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    return client


FORM = {
    "subdomain": "uppsala",
    "contact_name": "Eva",
    "contact_email": "eva@uppsala.example.org",
    "admin_username": "",
    "plan": "medium",
}


@pytest.mark.parametrize("name", BAD_NAMES)
def test_console_form_refuses_control_characters_in_the_name(console, name):
    response = console.post("/superadmin/orchestras/new/", {**FORM, "name": name})
    assert response.status_code == 200
    assert "Remove the line breaks and other invisible characters" in " ".join(
        response.context["form"].errors["name"]
    )
    assert not ProvisioningJob.objects.exists()


def test_console_form_refuses_a_contact_name_with_a_line_break(console):
    response = console.post(
        "/superadmin/orchestras/new/", {**FORM, "name": "Uppsala", "contact_name": "Eva\r\nX"}
    )
    assert response.context["form"].errors["contact_name"]
    assert not ProvisioningJob.objects.exists()


def test_console_form_accepts_ordinary_names(console):
    name = "Kungliga Filharmonikerna & Kör – Östra (2026)"
    response = console.post("/superadmin/orchestras/new/", {**FORM, "name": name})
    assert response.status_code == 302
    assert ProvisioningJob.objects.get().name == name


@pytest.mark.parametrize("name", BAD_NAMES[:3])
def test_create_orchestra_command_refuses_and_leaves_nothing(db, name):
    with pytest.raises(CommandError) as refused:
        call_command(
            "create_orchestra",
            "--subdomain",
            "uppsala",
            "--name",
            name,
            "--admin-email",
            "eva@uppsala.example.org",
            verbosity=0,
        )
    assert refused.value.returncode == 1
    assert "line breaks or control characters" in str(refused.value)
    assert not Orchestra.objects.exists()
