"""One GET of a source page: bounded in time and size, retried on what is worth retrying, and every failure told
in Korean and English (catalog.harvest.records.SourceError).

The address is the source's to choose (its URL, a DCAT page's hydra:next, a redirect), so it goes through
core.outbound: resolved, refused unless public (HARVEST_ALLOW_PRIVATE: development and tests only), connected to
the checked address, no proxy from the environment, redirects followed by hand and checked at each hop."""

import time

import requests
from django.conf import settings
from urllib3.exceptions import ReadTimeoutError

from catalog.harvest.records import SourceError
from core import outbound

USER_AGENT = "siheung-data-exchange-harvester/1 (+CKAN/DCAT-AP harvester)"


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def refusal(exc: outbound.Refused) -> SourceError:
    """Why the harvester does not connect to an address, in Korean and English."""
    url = _clip(exc.url)
    if exc.code == "scheme":
        return SourceError(
            f"http:// 또는 https:// 주소만 읽습니다: {url}", f"Only http:// and https:// addresses are read: {url}"
        )
    if exc.code == "invalid":
        return SourceError(f"주소가 올바르지 않습니다: {url}", f"The address is not valid: {url}")
    if exc.code == "unresolved":
        return SourceError(
            f"주소의 호스트 이름을 찾을 수 없습니다: {url}", f"The address's host name cannot be resolved: {url}"
        )
    if exc.code == "redirects":
        return SourceError(
            f"원본이 너무 여러 번 다른 주소로 보냈습니다 (최대 {outbound.MAX_REDIRECTS}번): {url}",
            f"The source redirected too many times (at most {outbound.MAX_REDIRECTS}): {url}",
        )
    return SourceError(
        f"공개 인터넷 주소가 아니어서 읽지 않습니다 ({exc.host} → {exc.detail}; 내부·사설·루프백·링크 로컬 주소는 "
        f"수집하지 않습니다): {url}",
        f"Not read: not a public internet address ({exc.host} → {exc.detail}; the harvester never reads internal, "
        f"private, loopback or link-local addresses): {url}",
    )


def get(url: str, *, params: dict | None = None, accept: str = "*/*") -> tuple[bytes, str]:
    """The body and the content type of `url`. Reads at most HARVEST_MAX_PAGE_BYTES (a larger page is refused while
    it streams in, never held whole); a connection error, timeout or 5xx is retried HARVEST_FETCH_RETRIES times; an
    address that is not a public one is refused at once (SourceError)."""
    attempts = settings.HARVEST_FETCH_RETRIES + 1
    last: SourceError | None = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(settings.HARVEST_RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1))
        try:
            return _get_once(url, params=params, accept=accept)
        except _Retryable as exc:
            last = exc.error
    raise last


class _Retryable(Exception):
    def __init__(self, error: SourceError):
        self.error = error


def _timed_out(url: str) -> "_Retryable":
    return _Retryable(
        SourceError(
            f"원본이 {settings.HARVEST_HTTP_TIMEOUT_SECONDS}초 안에 응답하지 않았습니다: {_clip(url)}",
            f"The source did not answer within {settings.HARVEST_HTTP_TIMEOUT_SECONDS} seconds: {_clip(url)}",
        )
    )


def _get_once(url, *, params, accept):
    limit = settings.HARVEST_MAX_PAGE_BYTES
    try:
        with outbound.open_get(
            url,
            params=params,
            headers={"Accept": accept, "User-Agent": USER_AGENT},
            timeout=settings.HARVEST_HTTP_TIMEOUT_SECONDS,
            allow_private=settings.HARVEST_ALLOW_PRIVATE,
        ) as response:
            if response.status_code >= 500:
                raise _Retryable(
                    SourceError(
                        f"원본이 오류로 응답했습니다 (HTTP {response.status_code}): {_clip(str(response.url))}",
                        f"The source answered with an error (HTTP {response.status_code}): {_clip(str(response.url))}",
                    )
                )
            if response.status_code >= 400:
                raise SourceError(
                    f"원본이 요청을 거절했습니다 (HTTP {response.status_code}): {_clip(str(response.url))}",
                    f"The source refused the request (HTTP {response.status_code}): {_clip(str(response.url))}",
                )
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise _too_large(limit)
            chunks, size = [], 0
            for chunk in response.iter_content(1 << 16):
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get("content-type", "")
    except outbound.Refused as exc:
        raise refusal(exc) from None
    except requests.Timeout:
        raise _timed_out(url) from None
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
        raise SourceError(
            f"주소가 올바르지 않습니다: {_clip(url)}", f"The address is not valid: {_clip(url)}"
        ) from None
    except requests.RequestException as exc:
        if exc.args and isinstance(exc.args[0], ReadTimeoutError):  # a read timeout while the body streams in
            raise _timed_out(url) from None
        kind = "ConnectError" if type(exc) is requests.ConnectionError else type(exc).__name__  # refused, reset
        raise _Retryable(
            SourceError(
                f"원본에 연결할 수 없습니다 ({kind}): {_clip(url)}",
                f"The source cannot be reached ({kind}): {_clip(url)}",
            )
        ) from None


def _too_large(limit: int) -> SourceError:
    return SourceError(
        f"원본의 한 페이지가 한도({limit // (1 << 20)} MB)보다 큽니다.",
        f"A page of the source is larger than the limit ({limit // (1 << 20)} MB).",
    )
