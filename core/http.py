"""What the exchange reads from an HTTP request, the same way everywhere."""

import ipaddress


def client_ip(request) -> str | None:
    """The client's address. Behind the reverse proxy (a private peer) nginx's X-Real-IP names the client;
    a header from anywhere else is ignored, so it cannot be forged from outside."""
    peer = request.META.get("REMOTE_ADDR") or None
    forwarded = request.META.get("HTTP_X_REAL_IP", "").strip()
    try:
        if forwarded and peer and ipaddress.ip_address(peer).is_private:
            return str(ipaddress.ip_address(forwarded))
    except ValueError:
        pass
    return peer
