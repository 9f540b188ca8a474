"""The webhook POST, connected to the address the services checked (transactions.livefeed.services.webhook_addresses)
and to no other: requests would resolve the name again, and a name that answered a public address at the check
may answer 127.0.0.1 or 169.254.169.254 a moment later (DNS rebinding). The TLS handshake and the Host header
still use the URL's name, so certificates are verified as usual. No proxy from the environment, no redirects."""

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection


def _pinned(addresses: list[str]):
    class Pinned:
        def _new_conn(self):
            problem = None
            for address in addresses:  # in the resolver's order, as a plain connection would try them
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
    def __init__(self, addresses: list[str]):
        self._addresses = addresses
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pinned(self._addresses)


def post(url: str, *, addresses: list[str], data: bytes, headers: dict, timeout: float) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False  # no HTTP(S)_PROXY: the connection goes to the addresses themselves
        adapter = _PinnedAdapter(addresses)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session.post(url, data=data, headers=headers, timeout=timeout, allow_redirects=False)


__all__ = ["post"]
