"""The production server under load: start it, log in, and drive bounded load at 127.0.0.1.

Shared by bench/pages.py and bench/answers_fleet.py. The server is `stagesub serve` when this
checkout has it, else gunicorn started directly the way it would (gthread, 2 workers × 4
threads); `Server.command` says which ran. Load only ever goes to 127.0.0.1, each client a
thread with one keep-alive connection, bounded by a request count and a time limit.
"""

from __future__ import annotations

import http.client
import importlib.util
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

FALLBACK_WORKERS, FALLBACK_THREADS = 2, 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stagesub() -> str:
    return str(Path(sys.executable).parent / "stagesub")


def serve_available() -> bool:
    probe = subprocess.run(
        [_stagesub(), "serve", "--help"], capture_output=True, text=True, check=False
    )
    return probe.returncode == 0 and "--bind" in probe.stdout


class Server:
    """The production server in its own process group; stopped (by its pid) on exit."""

    def __init__(self, logfile: Path, env: dict | None = None, ready_host: str = "localhost"):
        self.port = free_port()
        self.logfile = logfile
        self.env = {**os.environ, "STAGESUB_DEBUG": "0", **(env or {})}
        self.ready_host = ready_host
        bind = f"127.0.0.1:{self.port}"
        if serve_available():
            self.command = [_stagesub(), "serve", "--bind", bind]
        else:
            if importlib.util.find_spec("gunicorn") is None:
                raise SystemExit(
                    "no `stagesub serve` in this checkout and no gunicorn to start directly: "
                    f"{sys.executable} -m pip install gunicorn"
                )
            self.command = [
                *(sys.executable, "-m", "gunicorn", "stagesub.wsgi:application"),
                *("-k", "gthread", "--workers", str(FALLBACK_WORKERS)),
                *("--threads", str(FALLBACK_THREADS), "--bind", bind),
            ]
        self.process: subprocess.Popen | None = None

    @property
    def kind(self) -> str:
        return "stagesub serve" if self.command[0] == _stagesub() else "gunicorn (direct)"

    def __enter__(self) -> Server:
        log = self.logfile.open("w")
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited:\n{self.logfile.read_text()[-3000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/login/", headers={"Host": self.ready_host})
                conn.getresponse().read()
                conn.close()
                return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise SystemExit("the server did not answer within 60 s")

    def worker_count(self) -> int:
        """Worker processes: the leaves of the server's process group (gunicorn's master, and
        `stagesub serve` above it if it stays, have children; workers do not)."""
        members: dict[int, int] = {}  # pid -> parent pid
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.process.pid:  # field 5: process group
                members[int(stat.parent.name)] = int(fields[1])
        parents = set(members.values())
        return sum(1 for pid in members if pid not in parents)

    def cpu_seconds(self) -> float:
        """CPU time the server's processes have used so far (user + system), including workers
        that exited and were reaped by the master (max_requests). Under a loaded machine the
        wall-clock rates swing with the other work; the CPU spent per request does much less."""
        ticks = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.process.pid:  # same process group
                ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        return ticks / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # our own session: gunicorn and its workers
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    jar = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]
    return jar


def login(port: int, host: str, username: str, password: str) -> str:
    """Log in through the login form; returns the Cookie header of the session."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login/", headers={"Host": host})
    response = conn.getresponse()
    page = response.read().decode()
    jar = _cookies(response)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if token is None:
        raise SystemExit(f"no login form on {host}: {response.status}")
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token.group(1), "username": username, "password": password}
    )
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    conn.request(
        "POST",
        "/login/",
        body=body,
        headers={
            "Host": host,
            "Cookie": cookie,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    jar.update(_cookies(response))
    if response.status != 302 or "sessionid" not in jar:
        raise SystemExit(f"login as {username} on {host} failed: {response.status}")
    return "; ".join(f"{k}={v}" for k, v in jar.items())


@dataclass(frozen=True)
class Call:
    """One request to make: path on a host, GET or POST (form body)."""

    host: str
    path: str
    method: str = "GET"
    body: str = ""
    cookie: str = ""
    name: str = ""  # what the report groups it under (default: the path)


@dataclass
class Result:
    name: str
    status: int
    seconds: float
    retry_after: str | None = None


@dataclass
class Run:
    clients: int
    seconds: float
    results: list[Result] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.results)

    def summary(self, results: list[Result] | None = None) -> dict:
        results = self.results if results is None else results
        times = sorted(r.seconds for r in results)
        statuses: dict[str, int] = {}
        for r in results:
            statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
        return {
            "requests": len(results),
            "per_second": round(len(results) / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(percentile(times, 50) * 1000, 1),
            "p95_ms": round(percentile(times, 95) * 1000, 1),
            "mean_ms": round(statistics.fmean(times) * 1000, 1) if times else 0.0,
            "statuses": statuses,
        }

    @classmethod
    def merged(cls, runs: list[Run]) -> Run:
        """Runs of the same load taken in slices, as one (their times added)."""
        return cls(
            runs[0].clients,
            sum(r.seconds for r in runs),
            [result for r in runs for result in r.results],
        )

    def by_name(self) -> dict[str, dict]:
        names = sorted({r.name for r in self.results})
        return {n: self.summary([r for r in self.results if r.name == n]) for n in names}


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def drive(
    port: int,
    calls: list[Call],
    *,
    clients: int,
    requests: int,
    max_seconds: float,
    warmup: int = 0,
    on_tick=None,
) -> Run:
    """`clients` threads take `calls` round-robin (each from its own offset) until `requests`
    are done in all or `max_seconds` passed. `warmup` requests per client are made first and
    not counted. Every response is read in full; a dropped connection is reopened."""
    lock = threading.Lock()
    taken = [0]
    results: list[Result] = []
    barrier = threading.Barrier(clients + 1)
    stop_at = [0.0]
    finished: list[float] = []

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = index

        def one(call: Call) -> Result:
            nonlocal conn
            headers = {"Host": call.host}
            if call.cookie:
                headers["Cookie"] = call.cookie
            if call.method == "POST":
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            started = time.perf_counter()
            # A kept-alive connection the server closes as we send is retried once on a new
            # one, as browsers do; a failure on a new connection counts (status 0).
            for fresh in (conn.sock is None, True):
                try:
                    conn.request(call.method, call.path, body=call.body or None, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status, retry = response.status, response.getheader("Retry-After")
                    if response.getheader("Connection", "").lower() == "close":
                        conn.close()
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    status, retry = 0, None  # no HTTP answer at all
                    if fresh:
                        break
            return Result(call.name or call.path, status, time.perf_counter() - started, retry)

        for _ in range(warmup):
            one(calls[i % len(calls)])
            i += 1
        barrier.wait()
        while True:
            with lock:
                if taken[0] >= requests or time.perf_counter() > stop_at[0]:
                    break
                taken[0] += 1
            result = one(calls[i % len(calls)])
            i += 1
            with lock:
                results.append(result)
        conn.close()
        finished.append(time.perf_counter())

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = float("inf")
    barrier.wait()
    started = time.perf_counter()
    stop_at[0] = started + max_seconds
    while any(t.is_alive() for t in threads):
        if on_tick is not None:
            on_tick()
        time.sleep(0.1)
    return Run(clients, max(finished) - started, results)
