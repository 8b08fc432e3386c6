"""Addresses for `mlp-tui serve`, without its server's packages: the --host and --public-url flags, whether an
address is loopback, why it cannot be listened on (naming the flag to change), the URLs to print, sizes."""

from __future__ import annotations

import argparse
import ipaddress
import socket
from typing import Any

from core.runs.files import safe_text

MAX_SIZE = (500, 200)  # columns, rows: the largest terminal a browser may ask for (a larger one gets this)


def url_host(host: str) -> str:
    """A host as it goes in a URL: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


def clamp_size(width: Any, height: Any) -> tuple[int, int] | None:
    """A terminal size a client asked for, within 1..MAX_SIZE; None if it is not a pair of whole numbers."""
    try:
        w, h = int(str(width)), int(str(height))
    except ValueError:
        return None
    return max(1, min(w, MAX_SIZE[0])), max(1, min(h, MAX_SIZE[1]))


def is_loopback(host: str) -> bool:
    """Whether every address `host` names is this machine's loopback (a name is resolved)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(str(i[4][0]).split("%")[0]).is_loopback for i in infos)


def host_arg(text: str) -> str:
    """--host: an address or a name; [::1] as well as ::1. An empty one (every address, to asyncio) is refused."""
    host = text.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or any(c.isspace() or not c.isprintable() for c in host):
        raise argparse.ArgumentTypeError(f"{safe_text(text)!r} is not a host; give an address such as 127.0.0.1 "
                                         f"(this machine only) or 0.0.0.0 (every address)")
    return host


def public_url_arg(text: str) -> str:
    """--public-url: http(s)://host[:port][/path], as the students' browsers reach this server (a proxy's)."""
    from urllib.parse import urlsplit

    try:
        u = urlsplit(text.strip())
        ok = u.scheme in ("http", "https") and bool(u.hostname) and not u.query and not u.fragment and u.port != 0
    except ValueError:
        ok = False
    if not ok or any(c.isspace() or not c.isprintable() for c in text.strip()):
        raise argparse.ArgumentTypeError(f"{safe_text(text)!r} is not a URL such as http://192.168.1.20:8000")
    return text.strip().rstrip("/")


def bind_problem(host: str, port: int) -> str | None:
    """Why serve cannot listen on host:port, as a one-line message naming the flag to change; or None."""
    import errno

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as e:
        return (f"--host {safe_text(host)}: no such address or name ({getattr(e, 'strerror', None) or e}); give an "
                f"address of this machine, such as 127.0.0.1, or 0.0.0.0 for every address")
    for family, kind, proto, _, addr in infos:
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # as asyncio binds it
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                s.bind(addr)
            except OSError as e:
                where = f"{url_host(str(addr[0]))}:{port}"
                if e.errno == errno.EADDRNOTAVAIL:
                    return (f"--host {safe_text(host)}: {where} is not an address of this machine; give one of its "
                            f"addresses, 127.0.0.1, or 0.0.0.0 for every address")
                if e.errno == errno.EACCES:
                    return f"--port {port}: permission denied on {where} (ports below 1024 need root); give another"
                return f"--port {port}: cannot listen on {where} ({e.strerror or e}); give another with --port"
    return None


def banner(host: str, port: int, max_sessions: int, public_url: str | None) -> str:
    """The line serve prints once it listens: URLs a browser can open (never http://0.0.0.0 or http://:::80)."""
    here = f"{max_sessions} session{'s' * (max_sessions != 1)} at most; Ctrl+C stops and saves every one"
    if public_url:
        return f"mlp-tui serve: {public_url} (listening on {url_host(host)}:{port}; {here})"
    if host in ("0.0.0.0", "::"):
        local = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
        return (f"mlp-tui serve: listening on every address of this machine: http://{safe_text(socket.gethostname())}"
                f":{port} from another machine, http://{local}:{port} from this one ({here})")
    return f"mlp-tui serve: http://{safe_text(url_host(host))}:{port} ({here})"


