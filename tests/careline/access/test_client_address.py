"""Which address the channels' per-address limits count: the one the prod profile's nginx vouches for."""
from types import SimpleNamespace

from channels.guard import client_address


def test_the_address_nginx_vouches_for_wins_over_the_proxys_own():
    behind_nginx = SimpleNamespace(remote_addr="203.0.113.9", ip="127.0.0.1")
    assert client_address(behind_nginx) == "203.0.113.9"


def test_without_a_trusted_forwarded_header_the_connecting_peer_counts():
    direct = SimpleNamespace(remote_addr="", ip="198.51.100.4")   # Sanic leaves remote_addr empty then
    assert client_address(direct) == "198.51.100.4"
    assert client_address(None) == "unknown"
