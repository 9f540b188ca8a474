"""One GET of a source page: bounded in time and size, retried on what is worth retrying, and every failure told
in Korean and English (catalog.harvest.records.SourceError)."""

import time

import httpx
from django.conf import settings

from catalog.harvest.records import SourceError

USER_AGENT = "siheung-data-exchange-harvester/1 (+CKAN/DCAT-AP harvester)"


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def get(url: str, *, params: dict | None = None, accept: str = "*/*") -> tuple[bytes, str]:
    """The body and the content type of `url`. Reads at most HARVEST_MAX_PAGE_BYTES (a larger page is refused while
    it streams in, never held whole); a connection error, timeout or 5xx is retried HARVEST_FETCH_RETRIES times."""
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


def _get_once(url, *, params, accept):
    limit = settings.HARVEST_MAX_PAGE_BYTES
    timeout = httpx.Timeout(settings.HARVEST_HTTP_TIMEOUT_SECONDS)
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True, headers={"User-Agent": USER_AGENT}) as client,
            client.stream("GET", url, params=params, headers={"Accept": accept}) as response,
        ):
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
            for chunk in response.iter_bytes(1 << 16):
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get("content-type", "")
    except httpx.TimeoutException:
        raise _Retryable(
            SourceError(
                f"원본이 {settings.HARVEST_HTTP_TIMEOUT_SECONDS}초 안에 응답하지 않았습니다: {_clip(url)}",
                f"The source did not answer within {settings.HARVEST_HTTP_TIMEOUT_SECONDS} seconds: {_clip(url)}",
            )
        ) from None
    except httpx.InvalidURL:
        raise SourceError(
            f"주소가 올바르지 않습니다: {_clip(url)}", f"The address is not valid: {_clip(url)}"
        ) from None
    except httpx.HTTPError as exc:
        raise _Retryable(
            SourceError(
                f"원본에 연결할 수 없습니다 ({type(exc).__name__}): {_clip(url)}",
                f"The source cannot be reached ({type(exc).__name__}): {_clip(url)}",
            )
        ) from None


def _too_large(limit: int) -> SourceError:
    return SourceError(
        f"원본의 한 페이지가 한도({limit // (1 << 20)} MB)보다 큽니다.",
        f"A page of the source is larger than the limit ({limit // (1 << 20)} MB).",
    )
