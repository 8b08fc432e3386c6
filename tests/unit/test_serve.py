"""mlp-tui serve, without serving: which hosts count as loopback (serving: tests/functional/test_serve.py)."""

from __future__ import annotations


def test_serve_warns_off_loopback():
    from tui.subcommands.serve import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
