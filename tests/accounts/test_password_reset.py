"""Password reset by e-mailed link (host-bound, single use, no account discovery) and
changing one's own password."""

from __future__ import annotations

import re

from tests.conftest import PASSWORD, host_client, login

NEW = "another-long-passphrase-42"


def _ask(orchestra, email):
    return host_client(orchestra).post("/password-reset/", {"email": email})


def _link_path(mail_server, address):
    (message,) = mail_server.to(address)
    link = re.search(r"https?://\S+/password-reset/\S+/\S+/", mail_server.text(message)).group(0)
    return link, "/" + link.split("/", 3)[3]


def _set(client, path):
    page = client.get(path, follow=True)
    return client.post(
        page.redirect_chain[-1][0] if page.redirect_chain else path,
        {"new_password1": NEW, "new_password2": NEW},
    )


def test_the_same_answer_whether_or_not_the_address_has_an_account(goteborg, malmo, mail_server):
    known = _ask(goteborg, "admin@goteborg.example.org")
    unknown = _ask(goteborg, "nobody@example.org")
    elsewhere = _ask(goteborg, "admin@malmo.example.org")  # Malmö's admin, asked on Göteborg
    assert known.status_code == unknown.status_code == elsewhere.status_code == 302
    assert known["Location"] == unknown["Location"] == elsewhere["Location"]
    assert [m["To"] for m in mail_server.received] == ["admin@goteborg.example.org"]


def test_the_link_sets_a_new_password_once(goteborg, mail_server):
    _ask(goteborg, "admin@goteborg.example.org")
    link, path = _link_path(mail_server, "admin@goteborg.example.org")
    assert link.split("/")[2].startswith("goteborg.")
    client = host_client(goteborg)
    assert _set(client, path).status_code == 302
    login(goteborg, "goteborg-admin", NEW)
    again = host_client(goteborg).get(path, follow=True).content.decode()
    assert 'data-testid="reset-link-invalid"' in again and "already been used" in again


def test_the_link_is_refused_on_another_orchestras_host(goteborg, malmo, mail_server):
    _ask(goteborg, "admin@goteborg.example.org")
    _, path = _link_path(mail_server, "admin@goteborg.example.org")
    for client in (host_client(malmo), host_client()):
        page = client.get(path, follow=True).content.decode()
        assert 'data-testid="reset-link-invalid"' in page
    login(goteborg, "goteborg-admin", PASSWORD)  # unchanged


def test_change_own_password(goteborg):
    client = login(goteborg, "goteborg-admin")
    wrong = client.post(
        "/account/password/",
        {"old_password": "nope", "new_password1": NEW, "new_password2": NEW},
    )
    assert wrong.status_code == 200 and 'data-testid="error-summary"' in wrong.content.decode()
    changed = client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
    )
    assert changed.status_code == 302
    assert client.get("/projects/").status_code == 200  # still logged in
    login(goteborg, "goteborg-admin", NEW)
