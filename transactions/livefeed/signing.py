"""Standard Webhooks signatures (https://www.standardwebhooks.com): headers webhook-id, webhook-timestamp and
webhook-signature = "v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>", the key being the base64 part of
the secret "whsec_<base64>". Pure functions; `verify` is what a receiver does (the tests use it)."""

import base64
import hashlib
import hmac
import secrets
import time

PREFIX = "whsec_"
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret[len(PREFIX) :] if secret.startswith(PREFIX) else secret)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secret: str, message_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
        "content-type": "application/json",
    }


def verify(secret: str, headers: dict, body: bytes, *, now: int | None = None) -> bool:
    """True when one of the signatures matches and the timestamp is within five minutes."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        message_id, timestamp = lower["webhook-id"], int(lower["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs((now or int(time.time())) - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = sign(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(expected, part) for part in lower.get("webhook-signature", "").split())
