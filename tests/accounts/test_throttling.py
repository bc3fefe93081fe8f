"""Login throttling: bounded guessing per account, no lock-out of the owner by an attacker."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stagesub.accounts import devices, throttling
from stagesub.accounts.models import KnownAddress, LoginAttempt, ThrottleNotice
from stagesub.tenancy.models import AuditEvent
from tests.accounts.hashers import CountingHasher
from tests.conftest import PASSWORD, host_client

ADMIN = "goteborg-admin"
OWNER_HOME = "203.0.113.10"
ATTACKER = "198.51.100.66"
LOAD_BALANCER = "10.0.0.2"
# Spellings the login form turns into "goteborg-admin" (NFKC): each logs in as the admin.
LOOK_ALIKES = [
    "ｇoteborg-admin",  # fullwidth g
    "goteborg－admin",  # fullwidth hyphen-minus
    "ｇｏｔｅｂｏｒｇ-ａｄｍｉｎ",
    ADMIN,
]


@pytest.fixture
def limits(settings):
    settings.LOGIN_THROTTLE_ACCOUNT_ATTEMPTS = 4
    settings.LOGIN_THROTTLE_KNOWN_ATTEMPTS = 3
    settings.LOGIN_THROTTLE_ADDRESS_ATTEMPTS = 6
    settings.LOGIN_THROTTLE_WINDOW = 900
    return settings


@pytest.fixture
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = ["tests.accounts.hashers.CountingHasher"]
    CountingHasher.checks = 0
    CountingHasher.delay = 0.0
    yield CountingHasher
    CountingHasher.delay = 0.0


def post(client, username, password, address, **extra):
    return client.post(
        "/login/", {"username": username, "password": password}, REMOTE_ADDR=address, **extra
    )


def owner_device(orchestra, address=OWNER_HOME):
    """The owner's browser after a successful login from `address`: it carries the cookie."""
    client = host_client(orchestra)
    assert post(client, ADMIN, PASSWORD, address).status_code == 302
    assert devices.COOKIE_NAME in client.cookies
    client.post("/logout/")
    return client


def exhaust_address(orchestra, address, count):
    """Guesses for accounts that do not exist, from one address, until it is throttled."""
    client = host_client(orchestra)
    statuses = [
        post(client, f"nobody{i}", "guess-123456", address).status_code for i in range(count)
    ]
    assert statuses[-1] == 429, statuses


def test_fullwidth_look_alike_logs_in_as_the_user_and_shares_its_budget(goteborg, limits):
    # The look-alike really is the admin to authentication...
    assert post(host_client(goteborg), "ｇoteborg-admin", PASSWORD, OWNER_HOME).status_code == 302
    # ...so its guesses (and a case variant's) spend the admin's one budget.
    client = host_client(goteborg)
    for spelling in ["ｇoteborg-admin", "GOTEBORG-ADMIN", "ＧＯＴＥＢＯＲＧ-admin", ADMIN]:
        assert post(client, spelling, "wrong-guess-1", ATTACKER).status_code == 200
    response = post(client, "ｇｏｔｅｂｏｒｇ-ａｄｍｉｎ", PASSWORD, ATTACKER)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    keys = set(LoginAttempt.objects.values_list("account", flat=True))
    assert keys == {"goteborg-admin"}


def test_account_key_is_nfkc_casefold():
    assert throttling.account_key(" ＧｏｔｅＢＯＲＧ－Admin ") == "goteborg-admin"
    assert throttling.account_key("STRASSE") == throttling.account_key("straße")
    assert throttling.account_key("ﬁddler") == "fiddler"  # ligature ﬁ


def test_guessing_unknown_users_behind_the_balancer_locks_out_only_that_client(
    goteborg, limits, settings
):
    """All traffic comes from the load balancer; the client is in X-Forwarded-For."""
    settings.TRUSTED_PROXY_COUNT = 1
    attacker = host_client(goteborg, HTTP_X_FORWARDED_FOR=ATTACKER)
    statuses = [
        post(attacker, f"nobody{i}", "guess-123456", LOAD_BALANCER).status_code for i in range(8)
    ]
    assert statuses == [200] * 6 + [429] * 2
    # The attacker's address is blocked, also for a real account it has not guessed at yet.
    assert post(attacker, ADMIN, PASSWORD, LOAD_BALANCER).status_code == 429
    # Everyone else behind the same balancer logs in: never seen before, no cookie.
    owner = host_client(goteborg, HTTP_X_FORWARDED_FOR=OWNER_HOME)
    assert post(owner, ADMIN, PASSWORD, LOAD_BALANCER).status_code == 302
    assert set(LoginAttempt.objects.values_list("ip", flat=True)) == {ATTACKER}


def test_unknown_user_guessing_from_the_owners_address_spares_the_known_device(goteborg, limits):
    owner = owner_device(goteborg, address="192.0.2.44")
    exhaust_address(goteborg, ATTACKER, 7)
    # The same address without the owner's cookie is throttled...
    assert post(host_client(goteborg), ADMIN, PASSWORD, ATTACKER).status_code == 429
    # ...with it, the owner logs in from there.
    assert post(owner, ADMIN, PASSWORD, ATTACKER).status_code == 302


def test_attack_from_many_addresses_does_not_lock_out_the_known_device(goteborg, limits):
    owner = owner_device(goteborg)
    attacker = host_client(goteborg)
    statuses = [
        post(attacker, ADMIN, f"guess-{i}", f"198.51.100.{i}").status_code for i in range(1, 9)
    ]
    assert statuses == [200] * 4 + [429] * 4
    # Unknown clients are locked out of the account for the window (the price of the bound):
    assert post(host_client(goteborg), ADMIN, PASSWORD, "192.0.2.200").status_code == 429
    # the owner's browser has its own budget, from any address,
    response = post(owner, ADMIN, PASSWORD, "192.0.2.201")
    assert response.status_code == 302
    # and so has the address the owner logged in from before, without the cookie.
    assert post(host_client(goteborg), ADMIN, PASSWORD, OWNER_HOME).status_code == 302


def test_guessing_is_bounded_per_account_across_spellings_and_addresses(
    goteborg, settings, counting_hasher
):
    limit = settings.LOGIN_THROTTLE_ACCOUNT_ATTEMPTS
    attacker = host_client(goteborg)
    statuses = []
    for i in range(4 * limit):
        # Spoofed X-Forwarded-For is ignored (no trusted proxy): only addresses count.
        response = post(
            attacker,
            LOOK_ALIKES[i % len(LOOK_ALIKES)],
            f"guess-{i}",
            f"198.51.100.{i + 1}",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i + 1}",
        )
        statuses.append(response.status_code)
    assert statuses == [200] * limit + [429] * (3 * limit)
    assert counting_hasher.checks == limit
    # Throttled attempts check nothing: the right password is not even tried.
    response = post(attacker, "ｇoteborg-admin", PASSWORD, "198.51.100.250")
    assert response.status_code == 429 and counting_hasher.checks == limit
    assert int(response["Retry-After"]) > 800
    assert "15 minutes" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_concurrent_guesses_cannot_overrun_the_budget(goteborg, limits, counting_hasher):
    # Each check takes 50 ms (Argon2 takes longer): 24 guesses at once, from 24 addresses.
    counting_hasher.delay = 0.05

    def guess(i):
        try:
            client = host_client(goteborg)
            return post(client, LOOK_ALIKES[i % 4], f"guess-{i}", f"198.51.100.{i + 1}").status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(guess, range(24)))
    assert counting_hasher.checks <= 4
    assert statuses.count(200) == counting_hasher.checks and statuses.count(429) >= 20


def test_known_device_budget_is_bounded_and_its_own(goteborg, limits):
    owner = owner_device(goteborg)
    other_device = owner_device(goteborg, address="192.0.2.9")
    statuses = [post(owner, ADMIN, f"typo-{i}", "192.0.2.77").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert post(owner, ADMIN, PASSWORD, "192.0.2.77").status_code == 429
    # Neither the other device nor unknown clients paid for it.
    assert post(other_device, ADMIN, PASSWORD, "192.0.2.78").status_code == 302
    assert post(host_client(goteborg), ADMIN, PASSWORD, "192.0.2.79").status_code == 302


def test_a_forged_or_foreign_device_cookie_is_an_unknown_client(goteborg, malmo, limits):
    owner = owner_device(goteborg)
    cookie = owner.cookies[devices.COOKIE_NAME].value
    for i in range(4):
        post(host_client(goteborg), ADMIN, f"guess-{i}", f"198.51.100.{i + 1}")
    forged = host_client(goteborg)
    forged.cookies[devices.COOKIE_NAME] = cookie[:-3] + ("AAA" if cookie[-3:] != "AAA" else "BBB")
    assert post(forged, ADMIN, PASSWORD, "192.0.2.50").status_code == 429
    # A genuine cookie from another account (malmo's admin) does not vouch for this one.
    malmo_device = host_client(goteborg)
    malmo_client = host_client(malmo)
    assert post(malmo_client, "malmo-admin", PASSWORD, "192.0.2.51").status_code == 302
    malmo_device.cookies[devices.COOKIE_NAME] = malmo_client.cookies[devices.COOKIE_NAME].value
    assert post(malmo_device, ADMIN, PASSWORD, "192.0.2.51").status_code == 429


def test_device_cookie_is_host_only_httponly_and_remembers_several_accounts(goteborg, limits):
    client = owner_device(goteborg)
    cookie = client.cookies[devices.COOKIE_NAME]
    assert cookie["domain"] == "" and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == 180 * 24 * 3600
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user(
        "goteborg-second", password=PASSWORD, role="member", orchestra=goteborg
    )
    assert post(client, "goteborg-second", PASSWORD, OWNER_HOME).status_code == 302
    device = devices.read(type("R", (), {"COOKIES": {devices.COOKIE_NAME: cookie.value}})())
    refreshed = devices.read(
        type(
            "R", (), {"COOKIES": {devices.COOKIE_NAME: client.cookies[devices.COOKIE_NAME].value}}
        )()
    )
    assert refreshed.id == device.id and refreshed.accounts == ("goteborg-second", ADMIN)


def test_throttled_attempts_are_one_audit_event_per_account_and_window(goteborg, limits):
    for i in range(4):
        post(host_client(goteborg), ADMIN, f"guess-{i}", f"198.51.100.{i + 1}")
    for _ in range(5):
        assert (
            post(host_client(goteborg), "ｇoteborg-admin", "x-guess-1", "192.0.2.3").status_code
            == 429
        )
    events = AuditEvent.objects.filter(action="login.throttled")
    assert events.count() == 1
    event = events.get()
    assert event.actor_label == ADMIN and event.orchestra == goteborg
    assert event.details["scope"] == "account" and event.details["count"] == 5
    assert event.details["window_seconds"] == 900
    # A new window opens a new event.
    ThrottleNotice.objects.update(window_start=timezone.now() - timedelta(hours=1))
    post(host_client(goteborg), ADMIN, "x-guess-2", "192.0.2.3")
    assert events.count() == 2 and events.first().details["count"] == 1


def test_a_throttled_address_is_one_audit_event(goteborg, limits):
    exhaust_address(goteborg, ATTACKER, 10)
    event = AuditEvent.objects.get(action="login.throttled")
    assert event.ip == ATTACKER and event.actor_label == ""
    assert event.details["scope"] == "address" and event.details["count"] == 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_throttled_attempts_add_up_in_one_event(goteborg, limits):
    attempt = throttling.Attempt(
        ADMIN,
        ATTACKER,
        LoginAttempt.Channel.UNKNOWN,
        None,
        throttled_by=ThrottleNotice.Scope.ACCOUNT,
    )

    def note(_):
        try:
            for _ in range(5):
                throttling.note_throttled(
                    attempt, orchestra=goteborg, host="goteborg.stagesub.test"
                )
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(note, range(8)))
    event = AuditEvent.objects.get(action="login.throttled")
    assert event.details["count"] == 40 and ThrottleNotice.objects.get().count == 40


def test_old_rows_are_pruned(goteborg, limits):
    for i in range(3):
        post(host_client(goteborg), f"nobody{i}", "guess-123456", ATTACKER)
    owner_device(goteborg)
    assert LoginAttempt.objects.count() == 3 and KnownAddress.objects.count() == 1
    LoginAttempt.objects.update(at=timezone.now() - timedelta(seconds=901))
    KnownAddress.objects.update(last_login_at=timezone.now() - timedelta(days=31))
    post(host_client(goteborg), "nobody", "guess-123456", ATTACKER)
    assert LoginAttempt.objects.count() == 1
    owner_device(goteborg, address="192.0.2.5")
    assert list(KnownAddress.objects.values_list("ip", flat=True)) == ["192.0.2.5"]


def test_throttled_attempts_leave_no_rows(goteborg, limits):
    exhaust_address(goteborg, ATTACKER, 7)
    assert LoginAttempt.objects.count() == 6
    exhaust_address(goteborg, ATTACKER, 20)
    assert LoginAttempt.objects.count() == 6


def test_a_check_costs_a_constant_number_of_queries(goteborg, limits):
    limits.LOGIN_THROTTLE_ADDRESS_ATTEMPTS = 100

    def queries(address):
        with CaptureQueriesContext(connection) as captured:
            throttling.begin(username=ADMIN, address=address, device=None, host="h")
        return len(captured)

    first = queries(ATTACKER)
    for i in range(20):
        LoginAttempt.objects.create(
            at=timezone.now(), account=f"other{i}", channel="unknown", ip=ATTACKER
        )
    assert queries(ATTACKER) == first <= 5


def test_budget_counts_use_their_indexes(goteborg, backend):
    since = timezone.now() - timedelta(minutes=15)
    by_account = LoginAttempt.objects.filter(account=ADMIN, channel="unknown", at__gte=since)
    by_address = LoginAttempt.objects.filter(ip=ATTACKER, channel="unknown", at__gte=since)
    with connection.cursor() as cursor:
        if backend == "postgresql":
            # Plan as for a table in use: many accounts from many addresses, with statistics.
            # (On a near-empty table with stale statistics any index is as cheap as another.)
            LoginAttempt.objects.bulk_create(
                LoginAttempt(
                    at=timezone.now(),
                    account=f"user-{i}@example.org",
                    channel="unknown",
                    ip=f"10.0.{i // 250}.{i % 250}",
                )
                for i in range(2000)
            )
            cursor.execute(f"ANALYZE {LoginAttempt._meta.db_table}")
            cursor.execute("SET enable_seqscan = off")
        try:
            assert "loginattempt_account" in by_account.explain()
            assert "loginattempt_address" in by_address.explain()
        finally:
            if backend == "postgresql":
                cursor.execute("RESET enable_seqscan")


def test_throttled_page_speaks_swedish_by_default(goteborg, limits):
    client = host_client(goteborg, language=None)
    for i in range(5):
        response = post(client, ADMIN, f"guess-{i}", f"198.51.100.{i + 1}")
    assert response.status_code == 429
    assert "För många inloggningsförsök. Försök igen om 15 minuter." in response.content.decode()
