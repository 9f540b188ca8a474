"""What the exchange reads from an HTTP request, the same way everywhere."""

import ipaddress


def client_ip(request) -> str | None:
    """The client's address (None when REMOTE_ADDR is not one). Behind the reverse proxy (a private or loopback
    peer) nginx's X-Real-IP names the client; a header from anywhere else, or one that is not an address, is
    ignored, so it cannot be forged from outside."""
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR") or "")
    except ValueError:
        return None
    forwarded = request.META.get("HTTP_X_REAL_IP", "").strip()
    if forwarded and peer.is_private:  # loopback addresses are private too
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return str(peer)
