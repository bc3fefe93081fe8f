"""The production web server: gunicorn (gthread workers) running stagesub.wsgi.

Started by ``stagesub serve``, which collects the static files and then replaces itself with
``python -m stagesub.web.server``: the gunicorn master never imports Django or StageSub's code,
so a graceful reload (``kill -HUP <master>``) starts workers on the code and settings installed
at that moment, with no mix of old models and new views. The master runs ``collectstatic`` again
on reload, before the new workers start.

Sizing rule (see docs/operations.md, "Deployment"):

* workers = usable CPUs + 1, at least 2, at most 8. One process per CPU runs Python in
  parallel (the GIL allows one thread at a time per process); the extra one keeps the CPUs busy
  while a worker is being recycled (max_requests) or waits. Every worker keeps its own database
  connections, which is why the count is capped: processes × connection budget must stay under
  the database server's limit (see Connections).
* threads = 4 per worker: requests mostly wait on the database, so a few threads per process
  overlap those waits without multiplying connections the way processes do.

``STAGESUB_WEB_WORKERS`` and ``STAGESUB_WEB_THREADS`` override the rule;
``STAGESUB_WEB_TIMEOUT`` (seconds, default 30) bounds one request.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from collections.abc import Mapping

from gunicorn import glogging
from gunicorn.app.base import BaseApplication

MAX_WORKERS = 8
DEFAULT_THREADS = 4
DEFAULT_TIMEOUT = 30
# Recycling workers now and then bounds the damage of a slow leak; the jitter keeps them from
# all restarting at once.
MAX_REQUESTS = 1000
MAX_REQUESTS_JITTER = 100
# Who came, what they asked, how it went, how long it took, and the request id to find the
# application's own log lines for that request.
ACCESS_LOG_FORMAT = (
    '%(h)s "%({host}i)s" "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s" request_id=%({x-request-id}o)s'
)


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(cpus: int) -> int:
    return max(2, min(cpus + 1, MAX_WORKERS))


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise SystemExit(f"{name} must be a whole number of at least 1, not {raw!r}")
    return value


def gunicorn_options(bind: str, env: Mapping[str, str], cpus: int) -> dict:
    """Everything gunicorn is told, from the bind address, the environment and the CPUs."""
    return {
        "bind": [bind],
        "worker_class": "gthread",
        "workers": _positive_int(env, "STAGESUB_WEB_WORKERS", default_workers(cpus)),
        "threads": _positive_int(env, "STAGESUB_WEB_THREADS", DEFAULT_THREADS),
        "timeout": _positive_int(env, "STAGESUB_WEB_TIMEOUT", DEFAULT_TIMEOUT),
        "graceful_timeout": 30,
        "keepalive": 5,
        "max_requests": MAX_REQUESTS,
        "max_requests_jitter": MAX_REQUESTS_JITTER,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "access_log_format": ACCESS_LOG_FORMAT,
        "logger_class": StdoutLogger,
        "proc_name": "stagesub",
        # gunicorn 25+ opens a control socket in the home folder; signals are our interface.
        "control_socket_disable": True,
        "on_reload": collect_static_on_reload,
    }


def _json_formatter():
    from stagesub.web.observability import JsonFormatter

    class AccessJsonFormatter(JsonFormatter):
        # gunicorn passes the access line's atoms as the record's arguments: keep the useful
        # ones as fields, so JSON access lines can be filtered by request id or status.
        ATOMS = {
            "{x-request-id}o": "request_id",
            "{host}i": "host",
            "s": "status_code",
            "M": "duration_ms",
            "m": "method",
            "U": "path",
        }

        def format(self, record):
            if isinstance(record.args, dict):
                for atom, field in self.ATOMS.items():
                    if atom in record.args and not hasattr(record, field):
                        setattr(record, field, record.args[atom])
            return super().format(record)

    return AccessJsonFormatter()


class StdoutLogger(glogging.Logger):
    """gunicorn's own lines on stdout like the rest, as JSON lines when STAGESUB_LOG_FORMAT=json."""

    def setup(self, cfg):
        super().setup(cfg)
        json_lines = os.environ.get("STAGESUB_LOG_FORMAT", "plain").strip().lower() == "json"
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
                    handler.setStream(sys.stdout)
                if json_lines:
                    handler.setFormatter(_json_formatter())


def collect_static_on_reload(arbiter) -> None:
    # Runs in the master on SIGHUP, before the new workers start: an upgrade's new stylesheet
    # is collected (and hashed) before any page links to it. Old files stay for old workers.
    arbiter.log.info("collecting static files before the new workers start")
    result = subprocess.run(
        [sys.executable, "-m", "stagesub.cli", "collectstatic", "--noinput", "-v", "0"],
        check=False,
    )
    if result.returncode != 0:
        arbiter.log.error("collectstatic failed (exit %s)", result.returncode)


class StageSubServer(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # Imported in each worker, after the fork: Django starts there, on the current code.
        from stagesub.wsgi import application

        return application


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="stagesub serve")
    parser.add_argument("--bind", required=True)
    args = parser.parse_args(argv)
    options = gunicorn_options(args.bind, os.environ, usable_cpus())
    line = sizing_line(options, os.environ)
    if os.environ.get("STAGESUB_LOG_FORMAT", "plain").strip().lower() == "json":
        line = json.dumps({"level": "INFO", "logger": "stagesub.web", "message": line})
    print(line, flush=True)
    StageSubServer(options).run()


def sizing_line(options: dict, env: Mapping[str, str]) -> str:
    """What this server may ask of a database server, for the sizing rule in operations.md."""
    budget = _positive_int(env, "STAGESUB_MAX_ORCHESTRA_CONNECTIONS", 8)
    workers, threads = options["workers"], options["threads"]
    line = (
        f"StageSub on {', '.join(options['bind'])}: {workers} processes x {threads} threads; "
        f"at most {workers * budget} orchestra connections "
        f"({workers} x STAGESUB_MAX_ORCHESTRA_CONNECTIONS={budget})"
    )
    if budget < threads:
        line += f"; warning: fewer connection slots than threads ({budget} < {threads})"
    return line


if __name__ == "__main__":
    main()
