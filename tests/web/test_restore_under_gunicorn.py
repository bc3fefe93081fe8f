"""The in-place restore, under the production process model: `stagesub serve` with several
gunicorn processes and threads whose orchestra connections live across requests.

Found by trying it (issue 13): restoring Göteborg's backup into Malmö's database *in place*
made Malmö's host answer 200 with Göteborg's musicians until the connection was recycled,
because the stamp was read only when a connection opened. Now every use confirms it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import os
import re
import secrets
import subprocess
import sys
from http.cookies import SimpleCookie
from pathlib import Path

from tests.conftest import BACKEND, PASSWORD
from tests.inplace import pg_restore_in_place, sqlite_restore_in_place
from tests.pgurls import without_pool
from tests.web.test_serve import _free_port, _wait_for


def _env(tmp_path: Path) -> dict:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("STAGESUB_", "DJANGO_"))},
        "STAGESUB_DATA_DIR": str(tmp_path / "data"),
        "STAGESUB_SECRET_KEY": "restore-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "STAGESUB_BASE_DOMAIN": "localhost",
        "STAGESUB_ADMIN_PASSWORD": PASSWORD,
        "STAGESUB_WEB_WORKERS": "2",
        "STAGESUB_WEB_THREADS": "4",
        "STAGESUB_LOG_LEVEL": "WARNING",
    }
    if BACKEND == "postgresql":
        import psycopg

        server = os.environ["STAGESUB_TENANT_SERVER_URL"]
        # Through PgBouncer the server URL also names the pool (`pool_host`, `pool_port`):
        # StageSub's own options, which libpq refuses. The control database and this set-up
        # connect directly, as the suite's own control database does.
        direct = without_pool(server)
        control = f"stagesub_control_{secrets.token_hex(4)}"
        with psycopg.connect(direct, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{control}"')
        env["STAGESUB_TENANT_SERVER_URL"] = server
        env["STAGESUB_DATABASE_URL"] = direct.replace("/postgres?", f"/{control}?")
    return env


def _stagesub(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "stagesub.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class Browser:
    """Just enough of a browser for one host: cookies, the CSRF token, a login."""

    def __init__(self, port: int, host: str):
        self.port, self.host, self.cookies = port, host, SimpleCookie()

    def request(self, method: str, path: str, body: str = "") -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {
            "Host": self.host,
            "Cookie": "; ".join(f"{k}={v.value}" for k, v in self.cookies.items()),
        }
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        for header in response.headers.get_all("Set-Cookie") or []:
            self.cookies.load(header)
        text = response.read().decode("utf-8", "replace")
        conn.close()
        return response.status, text

    def login(self, username: str) -> None:
        _status, page = self.request("GET", "/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        status, _ = self.request(
            "POST",
            "/login/",
            f"csrfmiddlewaretoken={token}&username={username}&password={PASSWORD}",
        )
        assert status == 302


def _restore_in_place(env: dict, source: str, target: str) -> None:
    where = _stagesub(
        env,
        "shell",
        "-c",
        "from stagesub.tenancy.models import Orchestra\n"
        f"for s in ({source!r}, {target!r}):\n"
        "    o = Orchestra.objects.select_related('server').get(subdomain=s)\n"
        "    print('LOCATION', o.server.url, o.database_name, o.database_user, sep='|')",
    ).splitlines()
    rows = [line.split("|")[1:] for line in where if line.startswith("LOCATION|")]
    (src_dir, src_db, _), (dst_dir, dst_db, dst_role) = rows
    if BACKEND == "sqlite":
        sqlite_restore_in_place(Path(src_dir) / src_db, Path(dst_dir) / dst_db)
    else:
        pg_restore_in_place(env["STAGESUB_TENANT_SERVER_URL"], src_db, dst_db, dst_role)


def test_in_place_restore_serves_no_foreign_rows_under_gunicorn(tmp_path):
    env = _env(tmp_path)
    _stagesub(env, "migrate", "--noinput")
    for sub in ("goteborg", "malmo"):
        _stagesub(
            env,
            "create_orchestra",
            "--subdomain",
            sub,
            "--name",
            sub.title(),
            "--admin-email",
            f"admin@{sub}.example.org",
        )
    _stagesub(
        env,
        "shell",
        "-c",
        "from stagesub.tenancy import use_orchestra\n"
        "from stagesub.roster import services\n"
        "with use_orchestra('goteborg'):\n"
        "    services.create_musician(services.MusicianData(first_name='Foreignrow', "
        "last_name='Gbg', email='foreign@example.se'), max_musicians=100)",
    )
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "stagesub.cli", "serve", "--bind", f"127.0.0.1:{port}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(
            lambda: server.poll() is not None or Browser(port, "localhost").request("GET", "/")[0]
        )
        assert server.poll() is None, log.read_text()
        browser = Browser(port, "malmo.localhost")
        browser.login("malmo-admin")

        def musicians(_):
            return browser.request("GET", "/musicians/")

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            warm = list(pool.map(musicians, range(40)))  # every thread of both workers connects
        assert all(status == 200 and "Foreignrow" not in page for status, page in warm)

        _restore_in_place(env, "goteborg", "malmo")

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            after = list(pool.map(musicians, range(40)))
        leaked = [status for status, page in after if "Foreignrow" in page]
        assert leaked == [], f"{len(leaked)} of 40 responses showed Göteborg's musician"
        assert {status for status, _ in after} == {503}
        incidents = _stagesub(
            env,
            "shell",
            "-c",
            "from stagesub.tenancy.models import IsolationIncident\n"
            "print(IsolationIncident.open_incidents().filter(summary__contains='malmo').count())",
        )
        assert incidents.strip().splitlines()[-1] == "1"
    finally:
        with contextlib.suppress(Exception):
            server.terminate()
            server.wait(timeout=40)
