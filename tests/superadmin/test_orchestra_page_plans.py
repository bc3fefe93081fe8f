"""Plan limits on staff users and file storage: refused at the limit, naming it and how to
raise it; nothing half-written; limits below usage refused with the numbers."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from stagesub.projects import files
from stagesub.projects.models import Project, StoredFile
from stagesub.projects.services import ProjectData, create_project
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.plans import change_plan

User = get_user_model()


def _staff(orchestra, username, **kwargs):
    return User.objects.create_user(
        username, email=f"{username}@example.org", orchestra=orchestra, role="member", **kwargs
    )


def test_staff_users_stop_at_the_plans_limit(goteborg, settings):
    change_plan(goteborg, "medium", {"staff_users": 2})  # the admin and one more
    second = _staff(goteborg, "anna")
    with pytest.raises(ValidationError) as refused:
        _staff(goteborg, "bo")
    message = refused.value.messages[0]
    assert "allows 2 staff users and 2 are active" in message
    assert settings.PLATFORM_CONTACT in message
    assert not User.objects.filter(username="bo").exists()

    # An edit of an active user adds no one; a reactivation does, and is refused when full.
    second.first_name = "Anna"
    second.save()
    inactive = _staff(goteborg, "cecilia", is_active=False)
    inactive.is_active = True
    with pytest.raises(ValidationError):
        inactive.save()
    second.is_active = False
    second.save()
    inactive.save()  # room again
    assert goteborg.users.filter(is_active=True).count() == 2


def test_a_staff_limit_below_the_active_users_is_refused_with_the_numbers(goteborg):
    _staff(goteborg, "anna")
    with pytest.raises(ValidationError) as refused:
        change_plan(goteborg, "medium", {"staff_users": 1})
    assert "the new limit 1 is below the 2 in use" in refused.value.messages[0]


def test_file_storage_stops_at_the_plans_limit_and_keeps_nothing(goteborg, settings):
    change_plan(goteborg, "medium", {"storage_mb": 1})
    content = b"%PDF-1.4 " + b"x" * 700_000
    with use_orchestra(goteborg):
        project = create_project(
            ProjectData(name="Vår", start_date=datetime.date(2027, 3, 1)), max_projects=9
        )
        files.upload(project, name="first.pdf", content=content)
        with pytest.raises(ValidationError) as refused:
            files.upload(project, name="second.pdf", content=content)
        assert StoredFile.objects.count() == 1 and Project.objects.get().files.count() == 1
        on_disk = [p for p in files.files_dir().iterdir() if p.is_file()]
    message = refused.value.message_dict["file"][0]
    assert "your plan allows 1 MB" in message and settings.PLATFORM_CONTACT in message
    assert len(on_disk) == 1  # the refused upload left no file behind


def test_reactivating_from_the_users_pages_meets_the_staff_limit_too(goteborg, superadmin):
    # staff.set_active writes one UPDATE (no pre_save): the same limit must hold there.
    from stagesub.accounts import staff

    change_plan(goteborg, "medium", {"staff_users": 2})
    _staff(goteborg, "anna")
    inactive = _staff(goteborg, "cecilia", is_active=False)
    with pytest.raises(ValidationError) as refused:
        staff.set_active(None, inactive.pk, True, actor=superadmin)
    assert "allows 2 staff users" in refused.value.messages[0]
    assert not User.objects.get(pk=inactive.pk).is_active
