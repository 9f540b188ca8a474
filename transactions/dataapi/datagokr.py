"""The data.go.kr flavour of the table API: `GET …/<table>/datagokr?serviceKey=&pageNo=&numOfRows=&type=json|xml`.

So that the many Korean tutorials and existing client code written for 공공데이터포털 "Open API"s work against our
tables unchanged: the key may come as `serviceKey` (URL-encoded once or twice, a classic source of errors there),
pages are `pageNo` and `numOfRows` (offset paging in the table's order), `type` (also `_type`, `returnType`) is
`xml` (the portal's default) or `json`, and the answer is the portal's envelope:

    {"response": {"header": {"resultCode": "00", "resultMsg": "NORMAL_SERVICE"},
                  "body": {"items": {"item": [{…}, …]}, "numOfRows": 10, "pageNo": 1, "totalCount": 60}}}

Errors keep their HTTP status and use the portal's result codes (10 INVALID_REQUEST_PARAMETER_ERROR, 11
NO_MANDATORY_REQUEST_PARAMETERS_ERROR, 12 NO_OPENAPI_SERVICE_ERROR, 20 SERVICE_ACCESS_DENIED_ERROR, 22
LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR, 30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR; 03 NODATA_ERROR for a
page past the end), with the reason in Korean and English beside them. A key works the second it is made: there is
no "registration" delay. The sample (`sample=1`) needs no key, like the table API."""

import re
from urllib.parse import unquote
from xml.sax.saxutils import escape

from django.utils import translation

from accounts.api.authentication import ApiTokenAuthentication
from core.api.errors import in_both
from transactions.dataapi import formats

CODES = {
    "ok": ("00", "NORMAL_SERVICE"),
    "nodata": ("03", "NODATA_ERROR"),
    "invalid": ("10", "INVALID_REQUEST_PARAMETER_ERROR"),
    "missing": ("11", "NO_MANDATORY_REQUEST_PARAMETERS_ERROR"),
    "not_found": ("12", "NO_OPENAPI_SERVICE_ERROR"),
    "denied": ("20", "SERVICE_ACCESS_DENIED_ERROR"),
    "quota": ("22", "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR"),
    "key": ("30", "SERVICE_KEY_IS_NOT_REGISTERED_ERROR"),
    "unknown": ("99", "UNKNOWN_ERROR"),
}
TYPE_PARAMETERS = ("type", "_type", "returnType", "resultType", "dataType")
KEY_PARAMETERS = ("serviceKey", "ServiceKey", "servicekey")
MAX_PAGE_NO = 10_000_000


def service_key(query) -> str | None:
    """The key a data.go.kr client sent, decoded (clients often URL-encode the already encoded key once more)."""
    for name in KEY_PARAMETERS:
        value = (query.get(name) or "").strip()
        if value:
            for _ in range(2):
                if "%" not in value:
                    break
                value = unquote(value)
            return value
    return None


class _KeyAsHeader:
    """The request as ApiTokenAuthentication reads it, with the serviceKey as its Authorization header."""

    def __init__(self, request, key: str):
        self._request = request
        self.headers = {"authorization": f"Token {key}"}

    def __getattr__(self, name):
        return getattr(self._request, name)


class ServiceKeyAuthentication(ApiTokenAuthentication):
    """`?serviceKey=<API key>`: the same key, checked the same way (revoked, expired, membership) as in the
    Authorization header, which wins when both are sent."""

    def authenticate(self, request):
        key = service_key(request.query_params)
        if not key or request.headers.get("authorization"):
            return None
        return super().authenticate(_KeyAsHeader(request, key))


def wanted_type(query) -> str:
    for name in TYPE_PARAMETERS:
        value = (query.get(name) or "").strip().lower()
        if value:
            return "json" if value == "json" else "xml"
    return "xml"


def envelope(kind: str, *, items=None, page_no=None, num_of_rows=None, total=None, reason=None) -> dict:
    code, message = CODES[kind]
    header = {"resultCode": code, "resultMsg": message}
    if reason is not None:
        both = in_both(reason)
        header["resultDetailKo"] = both["message_ko"]
        header["resultDetailEn"] = both["message_en"]
    response = {"header": header}
    if items is not None:
        response["body"] = {
            "items": {"item": items},
            "numOfRows": num_of_rows,
            "pageNo": page_no,
            "totalCount": total,
        }
    return {"response": response}


_XML_NAME = re.compile(r"[^\w.-]", re.UNICODE)


def xml_name(name: str) -> str:
    """A column name as an XML element name (invalid characters become _, a leading digit gets a _)."""
    text = _XML_NAME.sub("_", name) or "_"
    if not (text[0].isalpha() or text[0] == "_") or text.lower().startswith("xml"):
        text = "_" + text
    return text


# Characters XML 1.0 does not allow even escaped (control characters such as Excel's vertical tab in a cell): a
# document holding one is not XML at all, and the client's parser rejects the whole page.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_value(value) -> str:
    return escape(_XML_INVALID.sub("\ufffd", formats.csv_text(value)))


def to_xml(data: dict) -> str:
    """The envelope as the portal's XML (UTF-8, one <item> per row, one element per column)."""
    response = data["response"]
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', "<response>", "<header>"]
    for key, value in response["header"].items():
        out.append(f"<{key}>{escape(str(value))}</{key}>")
    out.append("</header>")
    body = response.get("body")
    if body is not None:
        out.append("<body><items>")
        for item in body["items"]["item"]:
            out.append("<item>" + "".join(f"<{xml_name(k)}>{_xml_value(v)}</{xml_name(k)}>" for k, v in item.items()))
            out.append("</item>")
        out.append("</items>")
        for key in ("numOfRows", "pageNo", "totalCount"):
            out.append(f"<{key}>{body[key]}</{key}>")
        out.append("</body>")
    out.append("</response>")
    return "\n".join(out) + "\n"


def page_sql(table_sql_name: str, *, offset: int, limit: int) -> str:
    """The SQL of one page in the table's order (a quoted table name and two integers: no user text)."""
    return f"SELECT * FROM {table_sql_name} LIMIT {int(limit)} OFFSET {int(offset)}"


def language() -> str:
    return "en" if (translation.get_language() or "ko").startswith("en") else "ko"
