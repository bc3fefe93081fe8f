"""E-mail templates and sender settings: edited by admins, checked, recorded, used by the next
message (delivered to a real SMTP server on loopback)."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connections as django_connections

from stagesub.messaging import templates_admin
from stagesub.messaging.defaults import DEFAULTS
from stagesub.messaging.models import Message, MessageTemplate, SenderSettings, TemplateChange
from stagesub.offers import scheduler, services
from stagesub.tenancy import use_orchestra
from tests.conftest import PASSWORD, host_client, login
from tests.offers.test_flow import T0, make_need

EDITED_BODY = "Hi {{firstName}}, play {{position}} in {{projectName}}? Answer: {{responseUrl}}"


def _template(orchestra, kind="request", language="en") -> MessageTemplate:
    with use_orchestra(orchestra):
        return MessageTemplate.objects.get(kind=kind, language=language)


def _member(orchestra):
    get_user_model().objects.create_user(
        f"{orchestra.subdomain}-member", password=PASSWORD, role="member", orchestra=orchestra
    )
    return login(orchestra, f"{orchestra.subdomain}-member")


def test_an_edited_template_is_used_by_the_next_request_mail(goteborg, mail_server):
    need = make_need(goteborg)  # musicians who read English
    admin = login(goteborg, "goteborg-admin")
    saved = admin.post(
        "/templates/request/en/",
        {"subject": "Can you play {{projectName}}?", "body": EDITED_BODY, "save": "1"},
    )
    assert saved.status_code == 302
    with use_orchestra(goteborg):
        offer = services.send(need, now=T0).created[0]
    scheduler.run_due(now=T0)
    [mail] = mail_server.to(offer.musician.email)
    assert mail["Subject"] == "Can you play Mahler 2?"
    text = mail_server.text(mail)
    assert text.startswith(f"Hi {offer.musician.first_name}, play ")
    assert "/r/" in text  # the link was filled in


def test_sender_name_reply_to_and_signature_go_with_every_message(goteborg, mail_server):
    need = make_need(goteborg)
    admin = login(goteborg, "goteborg-admin")
    response = admin.post(
        "/templates/sender/",
        {
            "sender_name": "GSO Extra Office",
            "reply_to": "kansli@gso.example.se",
            "signature": "Kansliet\n031-123 45 67",
        },
    )
    assert response.status_code == 302
    with use_orchestra(goteborg):
        offer = services.send(need, now=T0).created[0]
    scheduler.run_due(now=T0)
    [mail] = mail_server.to(offer.musician.email)
    assert mail["From"].addresses[0].display_name == "GSO Extra Office"
    assert mail["Reply-To"] == "kansli@gso.example.se"
    assert (
        mail_server.text(mail)
        .replace("\r\n", "\n")
        .rstrip()
        .endswith("-- \nKansliet\n031-123 45 67")
    )


@pytest.mark.parametrize(
    "field,value",
    [
        ("sender_name", "GSO\r\nBcc: everyone@example.com"),
        ("sender_name", "GSO\nBcc: everyone@example.com"),
        ("reply_to", "kansli@gso.se\r\nBcc: x@example.com"),
        ("reply_to", "not an address"),
        ("signature", "<b>Kansliet</b>"),
    ],
)
def test_sender_settings_refuse_header_injection_and_bad_input(goteborg, field, value):
    admin = login(goteborg, "goteborg-admin")
    data = {"sender_name": "GSO", "reply_to": "", "signature": ""} | {field: value}
    response = admin.post("/templates/sender/", data)
    assert response.status_code == 400
    assert 'data-testid="error-summary"' in response.content.decode()
    with use_orchestra(goteborg):
        assert not SenderSettings.objects.exists()  # nothing half-written


@pytest.mark.parametrize(
    "body,named",
    [
        ("Hello {{firstname}}", "{{firstname}}"),  # wrong case: unknown
        ("Hello {{musicianName}}", "{{musicianName}}"),  # the reference's unsupplied name
        ("Hello {{first name}}", "{{first name}}"),  # malformed
        ("Hello {firstName}", "{firstName}"),  # single braces
        ("Hello {{firstName}", "{{"),  # unclosed
        ("Hello <b>{{firstName}}</b>", "&lt;b&gt;"),  # HTML in a plain-text template
    ],
)
def test_bad_variables_and_html_are_refused_by_name_and_nothing_changes(goteborg, body, named):
    before = _template(goteborg)
    admin = login(goteborg, "goteborg-admin")
    response = admin.post(
        "/templates/request/en/", {"subject": before.subject, "body": body, "save": "1"}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert named in page and 'data-testid="error-summary"' in page
    after = _template(goteborg)
    assert (after.subject, after.body) == (before.subject, before.body)
    with use_orchestra(goteborg):
        assert not TemplateChange.objects.exists()


def test_a_bad_variable_in_the_subject_is_named_next_to_the_subject(goteborg):
    admin = login(goteborg, "goteborg-admin")
    response = admin.post(
        "/templates/reminder/sv/", {"subject": "Hej {{projectDate}}", "body": "Hej", "save": "1"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["subject"] == [
        "Unknown variable: {{projectDate}}. Use one of the variables listed."
    ]


def test_history_records_who_when_and_what_and_reset_returns_the_default(goteborg):
    admin = login(goteborg, "goteborg-admin")
    default_subject, default_body = DEFAULTS[("confirmation", "sv")]
    admin.post(
        "/templates/confirmation/sv/",
        {"subject": default_subject, "body": "Välkommen {{firstName}}!", "save": "1"},
    )
    page = admin.get("/templates/confirmation/sv/").content.decode()
    assert "goteborg-admin" in page and "<ins>+Välkommen {{firstName}}!</ins>" in page
    reset = admin.post("/templates/confirmation/sv/reset/")
    assert reset.status_code == 302
    assert (_template(goteborg, "confirmation", "sv").body) == default_body
    with use_orchestra(goteborg):
        edit, back = TemplateChange.objects.order_by("pk")
    assert (edit.changed_by, edit.old_body, edit.new_body, edit.reset) == (
        "goteborg-admin",
        default_body,
        "Välkommen {{firstName}}!",
        False,
    )
    assert (back.old_body, back.new_body, back.reset) == (
        "Välkommen {{firstName}}!",
        default_body,
        True,
    )
    # saving the same text again is no change and leaves no history row
    admin.post(
        "/templates/confirmation/sv/",
        {"subject": default_subject, "body": default_body, "save": "1"},
    )
    with use_orchestra(goteborg):
        assert TemplateChange.objects.count() == 2


def test_the_preview_uses_a_real_request_and_saves_nothing(goteborg):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        offer = services.send(need, now=T0).created[0]
    admin = login(goteborg, "goteborg-admin")
    before = _template(goteborg)
    page = admin.get("/templates/request/en/").content.decode()
    assert offer.offer_id in page and offer.musician.full_name in page
    live = admin.post(
        "/templates/request/en/preview/",
        {"subject": "Try {{projectName}}", "body": "Dear {{fullName}}, week {{weekNumber}}"},
    )
    text = live.content.decode()
    assert live.status_code == 200
    assert "Try Mahler 2" in text and f"Dear {offer.musician.full_name}, week 10" in text
    bad = admin.post(
        "/templates/request/en/preview/", {"subject": "x", "body": "Dear {{nobody}}"}
    ).content.decode()
    assert "{{nobody}}" in bad and 'data-testid="template-preview"' not in bad
    after = _template(goteborg)
    assert (after.subject, after.body) == (before.subject, before.body)
    with use_orchestra(goteborg):
        assert not TemplateChange.objects.exists()
        assert Message.objects.count() == 1  # the request only


def test_templates_are_for_admins_only(goteborg):
    member = _member(goteborg)
    for path in ("/templates/", "/templates/request/sv/", "/templates/sender/"):
        assert member.get(path).status_code == 403
    assert member.post("/templates/request/sv/reset/").status_code == 403
    assert member.post("/templates/request/sv/", {"subject": "x", "body": "y"}).status_code == 403
    anonymous = host_client(goteborg)
    assert anonymous.get("/templates/").status_code == 302
    admin = login(goteborg, "goteborg-admin")
    listing = admin.get("/templates/")
    assert listing.status_code == 200
    assert len(listing.context["rows"]) == len(DEFAULTS)
    assert admin.get("/templates/nonsense/sv/").status_code == 404
    assert admin.get("/templates/request/de/").status_code == 404
    assert request_template_unchanged(goteborg)


def request_template_unchanged(orchestra) -> bool:
    template = _template(orchestra, "request", "sv")
    return (template.subject, template.body) == DEFAULTS[("request", "sv")]


def test_templates_belong_to_their_orchestra(goteborg, malmo):
    login(goteborg, "goteborg-admin").post(
        "/templates/request/sv/",
        {"subject": "Göteborg frågar", "body": "Hej {{firstName}}", "save": "1"},
    )
    assert _template(goteborg, "request", "sv").subject == "Göteborg frågar"
    assert request_template_unchanged(malmo)


def test_two_admins_saving_at_once_both_land_in_the_history_in_order(goteborg):
    texts = {"a": "Text A {{firstName}}", "b": "Text B {{firstName}}"}
    barrier, errors = threading.Barrier(2), []

    def run(name):
        try:
            with use_orchestra(goteborg):
                barrier.wait()
                templates_admin.save("reminder", "en", "Subject", texts[name], by=name)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            django_connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with use_orchestra(goteborg):
        first, second = TemplateChange.objects.order_by("pk")
        final = MessageTemplate.objects.get(kind="reminder", language="en").body
    # the second saw the first's text as the old one: no edit is lost from the history
    assert first.new_body == second.old_body
    assert first.old_body == DEFAULTS[("reminder", "en")][1]
    assert final == second.new_body
