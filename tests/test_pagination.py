"""Long lists come 50 to a page, with page links that keep the filters (both backends)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from stagesub.messaging.models import Message
from stagesub.projects import services as projects
from stagesub.projects.services import ProjectData
from stagesub.roster import services as roster
from stagesub.roster.services import MusicianData
from stagesub.tenancy import use_orchestra
from tests.conftest import login


def test_musicians_projects_and_mailbox_are_paginated_keeping_filters(goteborg):
    now = timezone.now()
    with use_orchestra(goteborg):
        for i in range(53):
            roster.create_musician(
                MusicianData(first_name=f"Anna{i:02d}", last_name="Berg", email=f"a{i}@ex.se"),
                max_musicians=1000,
            )
            projects.create_project(
                ProjectData(name=f"Konsert {i:02d}", start_date=datetime.date(2027, 3, 8)),
                max_projects=1000,
            )
        Message.objects.bulk_create(
            Message(
                kind="request",
                to_email=f"a{i}@ex.se",
                language="sv",
                subject=f"Fråga {i}",
                body="...",
                status="sent",
                next_attempt_at=now,
                created_at=now,
            )
            for i in range(53)
        )
    client = login(goteborg, "goteborg-admin")

    first = client.get("/musicians/?q=Berg&status=all")
    assert len(first.context["page"].object_list) == 50
    assert 'href="?q=Berg&amp;status=all&amp;page=2"' in first.content.decode()
    second = client.get("/musicians/?q=Berg&status=all&page=2")
    assert len(second.context["page"].object_list) == 3

    listed = client.get("/projects/?show=all&sort=name")
    assert len(listed.context["page"].object_list) == 50
    assert "show=all&amp;sort=name&amp;page=2" in listed.content.decode()
    assert len(client.get("/projects/?show=all&sort=name&page=2").context["page"]) == 3

    mail = client.get("/mailbox/?status=sent")
    assert len(mail.context["page"].object_list) == 50
    assert "status=sent&amp;page=2" in mail.content.decode()
    assert len(client.get("/mailbox/?status=sent&page=2").context["page"]) == 3
