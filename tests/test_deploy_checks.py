"""`manage.py check --deploy` is clean with the production settings docker-compose gives the app (HSTS included).

The environment is docker-compose.yml's `x-app-env` as Compose resolves it without a `.env` (every `${NAME:-default}`
takes its default), plus the values docs/deploy.md says an operator MUST put in `.env`: a real secret key, the
public host and the card PG's checkout page and keys. Nothing else: a setting that only passes because the test sets
it would not pass in production.
"""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")

# What docs/deploy.md requires in .env for a real deployment (the compose defaults are placeholders).
OPERATOR_ENV = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "data.siheung.go.kr",
    "SITE_URL": "https://data.siheung.go.kr",
    "PG_CHECKOUT_URL": "https://data.siheung.go.kr/pay/toss/",
    "PG_CLIENT_KEY": "live_ck_from_the_pg_contract",
    "PG_SECRET_KEY": "live_sk_from_the_pg_contract",
}


def compose_app_env(dot_env: dict) -> dict:
    """x-app-env of docker-compose.yml with `${NAME:-default}` resolved as Compose does (.env first)."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    raw = compose["x-app-env"]
    return {name: VARIABLE.sub(lambda m: dot_env.get(m[1]) or (m[2] or ""), str(value)) for name, value in raw.items()}


def run_check(env: dict) -> subprocess.CompletedProcess:
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_compose_production_settings_pass_check_deploy_with_no_warning():
    env = compose_app_env(OPERATOR_ENV)
    assert env["DJANGO_DEBUG"] == "false" and env["SECURE_SSL_REDIRECT"] == "true"
    assert int(env["SECURE_HSTS_SECONDS"]) >= 31536000
    assert env["MFA_REQUIRED_FOR_STAFF"] == "true"
    result = run_check(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout, result.stdout + result.stderr


def test_check_deploy_does_catch_a_deployment_without_https():
    """The same check fails when the TLS settings are turned off: the test above would notice them missing."""
    env = compose_app_env(
        {
            **OPERATOR_ENV,
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_HSTS_SECONDS": "0",
            "SECURE_COOKIES": "false",
        }
    )
    result = run_check(env)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in output, output
