"""docker-compose.yml read as data (Docker cannot run in CI): the health checks use /healthz, web and worker can be
scaled behind nginx, beat stays single, and the bundled MinIO's bucket is the one the app is configured to use."""

import re
from pathlib import Path

import pytest
import yaml

from marketplace.storage_config import default_storage_config

ROOT = Path(__file__).resolve().parent.parent


def _interpolate(text: str, overrides: dict | None = None) -> str:
    """Compose's ${VAR:-default} (the default when VAR is unset or empty) and ${VAR-default} (only when unset), nested
    ones too (${A-${B-default}}, innermost first), with an empty environment (or `overrides`), and $$ → $."""
    overrides = overrides or {}

    def value(m):
        name, colon, default = m.group(1), m.group(2), m.group(3)
        given = overrides.get(name)
        return default if given is None or (colon and given == "") else given

    while True:
        text, replaced = re.subn(r"\$\{([A-Z0-9_]+)(:?)-([^}$]*)\}", value, text)
        if not replaced:
            return text.replace("$$", "$")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(_interpolate((ROOT / "docker-compose.yml").read_text(encoding="utf-8")))


def test_every_variable_has_a_default(compose):
    """`docker compose config` works without a .env: no ${VAR} without a default is left."""
    assert "${" not in yaml.safe_dump(compose)


def test_web_health_check_is_healthz_scope_web(compose):
    web = compose["services"]["web"]
    assert web["healthcheck"]["test"] == ["CMD", "python", "deploy/healthcheck.py"]
    script = (ROOT / "deploy" / "healthcheck.py").read_text(encoding="utf-8")
    assert '"http://127.0.0.1:8000/healthz?scope=web"' in script  # gunicorn's bind in web's command
    assert "0.0.0.0:8000" in web["command"]


def test_web_and_worker_scale_behind_nginx(compose):
    services = compose["services"]
    for name in ("web", "worker"):
        assert "container_name" not in services[name], name  # a fixed name forbids --scale
        assert "ports" not in services[name], name  # a fixed host port too
    nginx = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    # A variable in proxy_pass with a resolver: `web` is looked up per request, every scaled container is used.
    assert re.search(r"resolver 127\.0\.0\.11\b", nginx)
    assert "set $app_upstream web:8000;" in nginx and "proxy_pass http://$app_upstream;" in nginx
    assert services["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"
    assert services["worker"]["healthcheck"]["test"][0] == "CMD-SHELL"
    assert "inspect ping" in services["worker"]["healthcheck"]["test"][1]


def test_exactly_one_beat(compose):
    beat = compose["services"]["beat"]
    assert "beat" in beat["command"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert sum("beat" in " ".join(s.get("command", []) or []) for s in compose["services"].values()) == 1


def test_filesystem_is_the_default_and_minio_is_an_opt_in_profile(compose):
    env = compose["x-app-env"]
    assert env["STORAGE_BACKEND"] == "filesystem"
    assert compose["services"]["minio"]["profiles"] == ["minio"]
    assert compose["services"]["minio-init"]["profiles"] == ["minio"]
    assert compose["services"]["minio"]["healthcheck"]["test"] == ["CMD", "mc", "ready", "local"]
    waits = compose["services"]["migrate"]["depends_on"]["minio-init"]
    assert waits == {"condition": "service_completed_successfully", "required": False}


def test_with_s3_the_app_uses_the_bucket_minio_init_makes(compose):
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    chosen = yaml.safe_load(_interpolate(text, {"STORAGE_BACKEND": "s3", "S3_BUCKET": "city-data"}))
    env = {k: str(v) for k, v in chosen["x-app-env"].items()}
    options = default_storage_config(env, private_root=Path("/unused"))["OPTIONS"]
    init = chosen["services"]["minio-init"]
    assert options["bucket_name"] == init["environment"]["BUCKET"] == "city-data"
    assert options["endpoint_url"] == "http://minio:9000"
    # Browsers cannot resolve `minio`: the URLs they are sent to are signed for the port MinIO publishes on the host.
    assert options["public_endpoint_url"] == "http://localhost:9000"
    assert chosen["services"]["minio"]["ports"] == ["127.0.0.1:9000:9000"]
    minio_env = chosen["services"]["minio"]["environment"]
    assert (options["access_key"], options["secret_key"]) == (
        minio_env["MINIO_ROOT_USER"],
        minio_env["MINIO_ROOT_PASSWORD"],
    )
    assert 'mc mb --ignore-existing "store/$BUCKET"' in init["command"][0]


def test_with_s3_an_empty_endpoint_and_empty_keys_reach_the_app_as_aws_and_its_own_credential_chain():
    """docs/deploy.md and .env.example: an empty S3_ENDPOINT_URL means AWS S3 itself, empty keys mean boto3's chain
    (an IAM role). Compose must pass them on empty, not put the bundled MinIO's address and keys in their place."""
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    aws = {"STORAGE_BACKEND": "s3", "S3_BUCKET": "city-data", "S3_REGION": "ap-northeast-2"}
    aws |= {"S3_ENDPOINT_URL": "", "S3_ACCESS_KEY_ID": "", "S3_SECRET_ACCESS_KEY": ""}
    chosen = yaml.safe_load(_interpolate(text, aws))
    env = {k: "" if v is None else str(v) for k, v in chosen["x-app-env"].items()}  # `KEY:` empty: ""
    options = default_storage_config(env, private_root=Path("/unused"))["OPTIONS"]
    assert (options["endpoint_url"], options["access_key"], options["secret_key"]) == (None, None, None)
    assert options["public_endpoint_url"] is None  # AWS's own address


def test_another_providers_endpoint_with_an_empty_public_endpoint_is_signed_for_itself():
    """.env.example: with a provider's S3_ENDPOINT_URL, S3_PUBLIC_ENDPOINT_URL written empty means the same address."""
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    ncp = {"STORAGE_BACKEND": "s3", "S3_BUCKET": "city-data", "S3_REGION": "kr-standard"}
    ncp |= {"S3_ENDPOINT_URL": "https://kr.object.ncloudstorage.com", "S3_PUBLIC_ENDPOINT_URL": ""}
    chosen = yaml.safe_load(_interpolate(text, ncp))
    env = {k: "" if v is None else str(v) for k, v in chosen["x-app-env"].items()}
    options = default_storage_config(env, private_root=Path("/unused"))["OPTIONS"]
    assert options["public_endpoint_url"] == options["endpoint_url"] == "https://kr.object.ncloudstorage.com"


def test_another_providers_endpoint_alone_is_signed_for_itself():
    """An install that names its provider's S3_ENDPOINT_URL and has no S3_PUBLIC_ENDPOINT_URL in .env (every install
    made before the variable existed): browsers are sent to the provider's address, not to the bundled MinIO's
    http://localhost:9000, which is no server of theirs (every download would fail)."""
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    ncp = {"STORAGE_BACKEND": "s3", "S3_BUCKET": "city-data", "S3_REGION": "kr-standard"}
    ncp |= {"S3_ENDPOINT_URL": "https://kr.object.ncloudstorage.com"}
    chosen = yaml.safe_load(_interpolate(text, ncp))
    env = {k: "" if v is None else str(v) for k, v in chosen["x-app-env"].items()}
    options = default_storage_config(env, private_root=Path("/unused"))["OPTIONS"]
    assert options["public_endpoint_url"] == options["endpoint_url"] == "https://kr.object.ncloudstorage.com"
    # AWS itself (the endpoint written empty): no public address either.
    chosen = yaml.safe_load(_interpolate(text, {**ncp, "S3_ENDPOINT_URL": ""}))
    env = {k: "" if v is None else str(v) for k, v in chosen["x-app-env"].items()}
    assert default_storage_config(env, private_root=Path("/unused"))["OPTIONS"]["public_endpoint_url"] is None


def test_env_example_copied_as_it_is_keeps_the_bundled_minio_defaults():
    """`cp .env.example .env` then COMPOSE_PROFILES=minio and STORAGE_BACKEND=s3 (docs/operations.md): the app talks
    to the bundled MinIO with its keys (.env.example must not set the endpoint or the keys to empty)."""
    example = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            example[key.strip()] = value.split(" #")[0].strip()
    example |= {"STORAGE_BACKEND": "s3"}
    chosen = yaml.safe_load(_interpolate((ROOT / "docker-compose.yml").read_text(encoding="utf-8"), example))
    env = {k: "" if v is None else str(v) for k, v in chosen["x-app-env"].items()}  # `KEY:` empty: ""
    options = default_storage_config(env, private_root=Path("/unused"))["OPTIONS"]
    minio_env = chosen["services"]["minio"]["environment"]
    assert options["endpoint_url"] == "http://minio:9000"
    assert options["public_endpoint_url"] == "http://localhost:9000"
    assert (options["access_key"], options["secret_key"]) == (
        minio_env["MINIO_ROOT_USER"],
        minio_env["MINIO_ROOT_PASSWORD"],
    )
