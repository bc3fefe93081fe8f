"""Production settings pass Django's deployment checks with no warning at all."""

import json
import os
import subprocess
import sys


def test_check_deploy_is_clean_for_production_settings(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("STAGESUB_", "DJANGO_"))},
        "DJANGO_SETTINGS_MODULE": "stagesub.settings",
        "STAGESUB_SECRET_KEY": "x" * 20
        + "production-like-secret-key-with-enough-entropy-0123456789",
        "STAGESUB_BASE_DOMAIN": "stagesub.se",
        "STAGESUB_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "stagesub.cli", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _security_settings(tmp_path, **env_vars) -> dict:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("STAGESUB_", "DJANGO_"))},
        "DJANGO_SETTINGS_MODULE": "stagesub.settings",
        "STAGESUB_DATA_DIR": str(tmp_path),
        **env_vars,
    }
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({n: getattr(s, n)"
        " for n in ('SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT',"
        " 'SECURE_HSTS_SECONDS', 'PUBLIC_SCHEME', 'DEBUG')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def test_plain_http_on_localhost_with_debug_off(tmp_path):
    # scripts/run serves http://goteborg.localhost:8000/ with debug off: Secure cookies or a
    # redirect to https would make logging in impossible there.
    values = _security_settings(tmp_path)
    assert values == {
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "PUBLIC_SCHEME": "http",
        "DEBUG": False,
    }


def test_https_everywhere_else_and_when_asked(tmp_path):
    for env in ({"STAGESUB_BASE_DOMAIN": "stagesub.se"}, {"STAGESUB_HTTPS": "1"}):
        values = _security_settings(tmp_path, **env)
        assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"], env
        assert values["SECURE_SSL_REDIRECT"] and values["SECURE_HSTS_SECONDS"] > 0, env
        assert values["PUBLIC_SCHEME"] == "https", env
