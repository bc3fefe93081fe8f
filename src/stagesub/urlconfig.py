"""Parsing of the connection URLs that operators give in the environment.

Kept free of Django imports so settings.py can use it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit


class InvalidURL(ValueError):
    pass


def database_settings(url: str) -> dict:
    """Turn ``sqlite:///path`` or ``postgresql://user:pw@host:port/db?opt=v`` into Django's dict.

    A Unix socket host may be given as ``?host=/path`` (the form pgserver prints).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc:  # sqlite://relative/path is a common slip; refuse it clearly
            raise InvalidURL("SQLite URLs take three slashes: sqlite:///absolute/or/relative/path")
        if path.startswith("/") and not path.startswith("//"):
            path = path[1:] if not Path(path).is_absolute() else path
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    if scheme in ("postgres", "postgresql", "pgsql"):
        query = dict(parse_qsl(parts.query))
        host = query.pop("host", None) or (parts.hostname or "")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": host,
            "PORT": str(parts.port or ""),
            "OPTIONS": query,
        }
    raise InvalidURL(f"Unsupported database URL scheme {scheme!r} (use sqlite or postgresql)")


def email_settings(url: str) -> dict:
    """``smtp://user:pass@host:port?tls=1`` (or ``smtps://`` for implicit TLS) to Django settings."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise InvalidURL(f"Unsupported email URL scheme {scheme!r} (use smtp or smtps)")
    query = dict(parse_qsl(parts.query))
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port or (465 if scheme == "smtps" else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": scheme == "smtps",
        "EMAIL_USE_TLS": query.get("tls", "0") in ("1", "true", "yes"),
        "EMAIL_TIMEOUT": int(query.get("timeout", "10")),
    }
