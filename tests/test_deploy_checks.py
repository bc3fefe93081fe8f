"""Production settings pass Django's deployment checks with no warning at all."""

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
