"""CKAN's Action API transport (ckan/views/api.py): `/api/3/action/<name>` and `/api/action/<name>`, GET or POST.

Plain Django views with CKAN's envelope, not DRF's: {"help", "success", "result"} or {"help", "success": false,
"error": {"__type", "message" | field: [messages]}} with CKAN's status codes; an unknown action or unreadable
request data is CKAN's bare JSON string with 400. Anonymous and read-only: an API key sent by a CKAN client is
ignored (every action is public). Requests count against the API's per-address budget (core.api.throttling,
API_RATE_PER_IP): 429 with Retry-After beyond it.
"""

import json
import logging
import re
from urllib.parse import quote

from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt

from catalog.ckan import actions
from catalog.ckan.errors import NotAuthorized, NotFound, SearchError, SearchQueryError, ValidationError
from catalog.ckan.packages import site
from core.api.throttling import PerIPThrottle

log = logging.getLogger(__name__)
JSON_TYPE = "application/json;charset=utf-8"
ALLOWED = ("GET", "POST", "HEAD", "OPTIONS")
# A JSONP callback is a JavaScript name (a.b.c), nothing else: the answer is a script served from this site, and CSP's
# script-src 'self' trusts it, so a free-form callback would let anyone make this site serve the script they write.
CALLBACK = re.compile(r"[A-Za-z_$][\w$]{0,63}(\.[A-Za-z_$][\w$]{0,63}){0,4}")


def _finish(status: int, body, *, callback: str | None = None, headers: dict | None = None) -> HttpResponse:
    text = json.dumps(body, ensure_ascii=False, separators=(", ", ": "))
    content_type = JSON_TYPE
    if callback and status == 200:  # JSONP, as CKAN serves it to GET requests
        text = f"{callback}({text});"
        content_type = "application/javascript;charset=utf-8"
    response = HttpResponse(text, status=status, content_type=content_type)
    response["Access-Control-Allow-Origin"] = "*"  # public, read-only, no cookies needed
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def _bad_request(message: str) -> HttpResponse:
    return _finish(400, f"Bad request - {message}")


def _mixed(multi) -> dict:
    """CKAN's request data of a query string or form: one value as a string, repeated values as a list."""
    return {key: values[0] if len(values) == 1 else values for key, values in multi.lists()}


def _request_data(request) -> dict:
    """The action's data_dict (CKAN's _get_request_data): GET parameters, a form, or a JSON object body."""
    if request.method in ("GET", "HEAD"):
        return _mixed(request.GET)
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data") and request.POST:
        form = request.POST
        values = [v for _k, vs in form.lists() for v in vs]
        if len(values) == 1 and values[0] in ("1", ""):
            key = next(iter(form.keys()))
            try:
                data = json.loads(key)
            except ValueError as exc:
                raise ValueError(
                    f"Error decoding JSON data. Error: {exc!r} JSON data extracted from the request: {{}}"
                ) from None
        else:
            data = _mixed(form)
    elif request.body and request.content_type != "multipart/form-data":
        try:
            data = json.loads(request.body)
        except ValueError as exc:
            raise ValueError(
                f"Error decoding JSON data. Error: {exc!r} JSON data extracted from the request: {{}}"
            ) from None
    else:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"Request data JSON decoded to {data!r} but it needs to be a dictionary.")
    return data


def _unreadable(value) -> str | None:
    """Why a value of the request data cannot be used (a NUL, which PostgreSQL cannot hold; a lone surrogate, which
    is not text), or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return "Null characters are not allowed"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "Not valid Unicode text"
        return None
    if isinstance(value, dict):
        return next((why for v in (*value.keys(), *value.values()) if (why := _unreadable(v))), None)
    if isinstance(value, list):
        return next((why for v in value if (why := _unreadable(v))), None)
    return None


def _throttled(request) -> HttpResponse | None:
    request.auth = None  # no key: the address's budget (core.api.throttling reads request.auth)
    throttle = PerIPThrottle()
    if throttle.allow_request(request, None):
        return None
    wait = max(1, int(throttle.wait() or 1))
    message = "Too many requests: wait and try again (see Retry-After)."
    with translation.override("ko"):
        message_ko = gettext(message)
    with translation.override("en"):
        message_en = gettext(message)
    body = {
        "help": site("/api/3/action/help_show"),
        "success": False,
        "error": {"__type": "Throttled", "message": message_en, "message_ko": message_ko},
    }
    return _finish(429, body, headers={"Retry-After": str(wait)})


@csrf_exempt
def action(request, name: str):
    """One action call."""
    if request.method == "OPTIONS":
        response = HttpResponse(status=200)
        response["Allow"] = ", ".join(ALLOWED)
        response["Access-Control-Allow-Origin"] = "*"
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type, Authorization, X-CKAN-API-Key"
        return response
    if request.method not in ALLOWED:
        response = HttpResponse(status=405)
        response["Allow"] = ", ".join(ALLOWED)
        return response
    throttled = _throttled(request)
    if throttled is not None:
        return throttled
    function = actions.ACTIONS.get(name)
    if function is None:
        return _bad_request(f"Action name not known: {name}")
    envelope = {"help": site(f"/api/3/action/help_show?name={quote(name)}")}
    try:
        data = _request_data(request)
    except ValueError as exc:
        return _bad_request(f"JSON Error: {exc}")
    callback = None
    if "callback" in data:
        callback = data.pop("callback")
        callback = callback if isinstance(callback, str) and request.method == "GET" else None
        if callback is not None and not CALLBACK.fullmatch(callback):
            return _bad_request("callback must be a JavaScript name (letters, digits, _ and $, joined by dots)")
    unreadable = {str(key): [why] for key, value in data.items() if (why := _unreadable(key) or _unreadable(value))}
    if unreadable:
        # (a key that is not text itself is named with its bad characters escaped)
        unreadable = {key.encode("utf-8", "backslashreplace").decode(): why for key, why in unreadable.items()}
        return _finish(409, envelope | {"success": False, "error": unreadable | {"__type": "Validation Error"}})
    try:
        result = function(data)
    except NotAuthorized as exc:
        error = {
            "__type": "Authorization Error",
            "message": "Access denied" + (f": {exc.detail}" if exc.detail else ""),
        }
        return _finish(403, envelope | {"success": False, "error": error})
    except NotFound as exc:
        error = {"__type": "Not Found Error", "message": "Not found" + (f": {exc.detail}" if exc.detail else "")}
        return _finish(404, envelope | {"success": False, "error": error})
    except ValidationError as exc:
        error = dict(exc.error_dict) | {"__type": "Validation Error"}
        return _finish(409, envelope | {"success": False, "error": error})
    except SearchQueryError as exc:
        error = {
            "__type": "Search Query Error",
            "message": f"Search Query is invalid: {exc.args!r}",
            "message_ko": exc.text("ko"),
        }
        return _finish(400, envelope | {"success": False, "error": error})
    except SearchError as exc:
        error = {"__type": "Search Error", "message": f"Search error: {exc.args!r}", "message_ko": exc.text("ko")}
        return _finish(409, envelope | {"success": False, "error": error})
    except Exception:
        log.exception("CKAN action %s failed", name)
        error = {"__type": "Internal Server Error", "message": "Internal Server Error"}
        return _finish(500, envelope | {"success": False, "error": error})
    return _finish(200, envelope | {"success": True, "result": result}, callback=callback)


def api_version(request):
    """`/api/3`: the Action API's version."""
    return _finish(200, {"version": 3})
