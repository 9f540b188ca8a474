"""Every URL pattern of the site, walked from django.urls.get_resolver(), and the helpers the access tests share:
the key a pattern is known by in the tables, the schema's form of its route (to find the /api/v1 patterns the API's
permission matrix covers), and one request by one role in a savepoint rolled back after it."""

import re
from dataclasses import dataclass
from http.cookies import SimpleCookie

from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver

from tests.access.world import B_KEYS, KEYS, SESSIONS


@dataclass(frozen=True)
class Pattern:
    key: str  # "namespace:name", or the route itself for a pattern without a name
    route: str  # the whole route, as Django spells it (path converters and regex groups)
    kwargs: tuple[str, ...]  # the names of its parameters
    callback: str  # module.function of the view

    @property
    def schema_form(self) -> str:
        """The route as drf-spectacular writes paths, every parameter as {}: "/api/v1/orders/{}/"."""
        route = self.route.replace("^", "").replace("$", "").replace("\\.", ".")
        route = re.sub(r"\(\?P<[^>]+>(?:[^()]|\([^()]*\))*\)", "{}", route)
        return "/" + re.sub(r"<[^>]+>", "{}", route)


def _walk(resolver, prefix="", namespace=None):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            callback = entry.callback
            yield Pattern(
                key=name or route,
                route=route,
                kwargs=tuple(re.findall(r"<(?:\w+:)?(\w+)>", route.replace("(?P<", "<"))),
                callback=f"{callback.__module__}.{getattr(callback, '__name__', callback)}",
            )


def every_pattern() -> list[Pattern]:
    return list(_walk(get_resolver()))


LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/django-admin/login/"


def outcome(response) -> str:
    """What a response is in the tables' words: its status, or for a redirect where it goes: "L" (our sign-in page),
    "A" (the Django admin's sign-in page), "R" (anywhere else)."""
    if response.status_code in (301, 302, 303, 307, 308):
        location = response.get("Location", "")
        if location.startswith(LOGIN):
            return "L"
        if location.startswith(ADMIN_LOGIN):
            return "A"
        return "R!" if _error_message(response) else "R"
    return str(response.status_code)


def _error_message(response) -> bool:
    """Whether a redirect carries an error message (the page refused, saying why) in the messages cookie."""
    from django.contrib.messages import constants
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.http import HttpRequest

    morsel = response.cookies.get("messages")
    if morsel is None or not morsel.value:
        return False
    stored = CookieStorage(HttpRequest())._decode(morsel.value) or []
    return any(message.level >= constants.WARNING for message in stored)


def body_of(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode(errors="replace")


def call(world, role: str, method: str, path: str, data=None, **headers):
    """One request by one role (a session's cookies, an API key, or nothing), in a savepoint rolled back after it:
    a write, a sign-out or a rotated session never reaches the next request."""
    client = world.client
    client.cookies = SimpleCookie()
    for name, morsel in world.jars.get(role, {}).items():
        client.cookies[name] = morsel.value
    if role in KEYS or role in B_KEYS:
        headers["HTTP_AUTHORIZATION"] = f"Token {world.keys[role]}"
    elif role not in SESSIONS:  # pragma: no cover - a table names an unknown role
        raise KeyError(role)
    with transaction.atomic():
        response = getattr(client, method.lower())(path, data, **headers)
        body = body_of(response)
        transaction.set_rollback(True)
    return response, body
