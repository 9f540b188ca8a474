"""Outbound HTTP to an address someone else chose (a buyer's webhook, a harvest source, a resource a source names):
never into the exchange's own network (loopback, private, link-local such as the cloud metadata service
169.254.169.254, reserved), and connected to the very addresses that were checked.

- `addresses(host)` resolves the name once and refuses (Refused) when any answer is not a public address;
- the pinned session connects to those addresses only: requests would resolve the name again, and a name that
  answered a public address at the check may answer 127.0.0.1 a moment later (DNS rebinding). The TLS handshake
  and the Host header still use the URL's name, so certificates are verified as usual;
- no proxy from the environment (HTTP(S)_PROXY would carry the request elsewhere, unchecked);
- redirects are followed by hand (`open_get`), at most MAX_REDIRECTS, each hop resolved and checked again.

`allow_private` (a setting of the caller's, for development and tests whose fake servers run on 127.0.0.1) skips
the public check but still pins and still refuses a scheme other than http(s)."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection

MAX_REDIRECTS = 5
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Exception):
    """The address may not be connected to. `code`: "scheme" (not http(s)), "invalid" (no address at all),
    "unresolved" (the name does not resolve), "private" (it resolves to an address that is not a public one),
    "redirects" (too many hops)."""

    def __init__(self, code: str, url: str, detail: str = ""):
        super().__init__(f"{code}: {url} {detail}".strip())
        self.code, self.url, self.detail = code, url, detail

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or self.url


def not_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, private, link-local, reserved, multicast, or an IPv6 address that carries such an IPv4 one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not_public(embedded):
            return True
    return not address.is_global or address.is_multicast


def addresses(host: str, *, allow_private: bool = False, url: str = "") -> list[str]:
    """Every address `host` resolves to now, in the resolver's order; Refused when it does not resolve or (unless
    allow_private) when one of them is not public."""
    url = url or host
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise Refused("unresolved", url) from None
    found = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not allow_private and not_public(address):
            raise Refused("private", url, str(address))
        if str(address) not in found:
            found.append(str(address))
    if not found:
        raise Refused("unresolved", url)
    return found


def check_url(url: str, *, allow_private: bool = False) -> list[str]:
    """The addresses an http(s) `url` may be connected to (Refused otherwise)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — a port that is no number raises here, not later in the connection
    except ValueError:  # "http://[::1", a port out of range: not an address
        raise Refused("invalid", url) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("scheme", url)
    return addresses(parts.hostname, allow_private=allow_private, url=url)


def _pinned(pinned: list[str]):
    class Pinned:
        def _new_conn(self):
            problem = None
            for address in pinned:  # in the resolver's order, as a plain connection would try them
                try:
                    return connection.create_connection(
                        (address, self.port),
                        self.timeout,
                        source_address=self.source_address,
                        socket_options=self.socket_options,
                    )
                except TimeoutError as exc:
                    problem = ConnectTimeoutError(self, f"Connection to {self.host} ({address}) timed out")
                    problem.__cause__ = exc
                except OSError as exc:
                    problem = NewConnectionError(self, f"Failed to connect to {self.host} ({address}): {exc}")
                    problem.__cause__ = exc
            raise problem or NewConnectionError(self, f"No address to connect to for {self.host}")

    class Http(Pinned, HTTPConnection):
        pass

    class Https(Pinned, HTTPSConnection):
        pass

    class HttpPool(HTTPConnectionPool):
        ConnectionCls = Http

    class HttpsPool(HTTPSConnectionPool):
        ConnectionCls = Https

    return {"http": HttpPool, "https": HttpsPool}


class _PinnedAdapter(HTTPAdapter):
    def __init__(self, pinned: list[str]):
        self._pinned = pinned
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pinned(self._pinned)


def pinned_session(pinned: list[str]) -> requests.Session:
    """A session whose every connection goes to `pinned` (and nowhere else), ignoring proxy settings."""
    session = requests.Session()
    session.trust_env = False  # no HTTP(S)_PROXY, no .netrc: the connection goes to the addresses themselves
    adapter = _PinnedAdapter(pinned)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def post(url: str, *, addresses: list[str], data: bytes, headers: dict, timeout: float) -> requests.Response:
    """One POST to the already checked `addresses`, no redirects (the webhooks)."""
    with pinned_session(addresses) as session:
        return session.post(url, data=data, headers=headers, timeout=timeout, allow_redirects=False)


@contextlib.contextmanager
def open_get(
    url: str,
    *,
    allow_private: bool,
    headers: dict | None = None,
    params: dict | None = None,
    timeout: float | tuple[float, float],
    max_redirects: int = MAX_REDIRECTS,
) -> Iterator[requests.Response]:
    """A streamed GET of `url` (closed on leaving): each hop resolved, checked and pinned; redirects followed by
    hand, at most `max_redirects`. Refused, or requests' own exceptions."""
    if params:
        url = requests.Request("GET", url, params=params).prepare().url
    for _hop in range(max_redirects + 1):
        pinned = check_url(url, allow_private=allow_private)
        session = pinned_session(pinned)
        try:
            response = session.get(url, headers=headers, timeout=timeout, stream=True, allow_redirects=False)
        except ValueError:  # requests parses a redirect's Location even when it follows none ("http://[::1")
            session.close()
            raise Refused("invalid", url) from None
        except BaseException:
            session.close()
            raise
        if response.is_redirect and response.headers.get("location"):
            try:
                url = urljoin(url, response.headers["location"])
            except ValueError:  # the source's Location is no address
                response.close()
                session.close()
                raise Refused("invalid", response.headers["location"]) from None
            response.close()
            session.close()
            continue
        try:
            yield response
        finally:
            response.close()
            session.close()
        return
    raise Refused("redirects", url)


__all__ = ["MAX_REDIRECTS", "Refused", "addresses", "check_url", "not_public", "open_get", "pinned_session", "post"]
