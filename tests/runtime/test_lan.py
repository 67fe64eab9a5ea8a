"""LAN discovery (mDNS): validation of hostile adverts, address choice, and a real advert
found by a real browse on the loopback interface (nothing is sent on the LAN)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgenet_app.cli import main
from edgenet_app.core.activity import Policy
from edgenet_app.runtime.net import lan
from edgenet_app.runtime.net.lan import (
    MAX_RELAYS,
    SERVICE_TYPE,
    LanError,
    RelayAdvert,
    advert_addresses,
    browse_relays,
    is_loopback_host,
    multicast_works,
    order_urls,
    parse_txt,
    relay_urls,
)

NET = bytes(range(32))
OTHER = bytes(32)
GOOD = {b"network": NET.hex().encode(), b"path": b"/ws", b"v": b"1"}


def txt(**changes: bytes | None) -> dict[bytes, bytes | None]:
    out: dict[bytes, bytes | None] = dict(GOOD)
    for key, value in changes.items():
        if value is None:
            out.pop(key.encode(), None)
        else:
            out[key.encode()] = value
    return out


# --- TXT and URL validation ----------------------------------------------------------------


def test_a_good_txt_record_parses() -> None:
    assert parse_txt(GOOD) == (NET, "/ws")
    assert parse_txt(txt(path=None)) == (NET, "/ws")  # path defaults to /ws
    assert parse_txt(txt(network=NET.hex().upper().encode())) == (NET, "/ws")
    assert parse_txt(txt(path=b"/edgenet/ws-2")) == (NET, "/edgenet/ws-2")


@pytest.mark.parametrize(
    ("props", "why"),
    [
        (txt(v=None), "only v=1"),
        (txt(v=b"2"), "only v=1"),
        (txt(v=b"1" * 300), "short byte string"),
        (txt(network=None), "64 hex digits"),
        (txt(network=NET.hex()[:-2].encode()), "64 hex digits"),
        (txt(network=NET.hex().encode() + b"00"), "64 hex digits"),
        (txt(network=b"zz" * 32), "64 hex digits"),
        (txt(network=b"\xff" * 64), "not ASCII"),
        (txt(network="٣".encode() * 64), "not ASCII"),  # a non-ASCII digit
        (txt(network=b" " + NET.hex().encode()), "64 hex digits"),
        (txt(path=b"ws"), "TXT path"),
        (txt(path=b"/"), "TXT path"),
        (txt(path=b"//evil.example/ws"), "TXT path"),
        (txt(path=b"/../admin"), "TXT path"),
        (txt(path=b"/ws?x=1"), "TXT path"),
        (txt(path=b"/ws#frag"), "TXT path"),
        (txt(path=b"/ws\r\nHost: evil"), "TXT path"),
        (txt(path=b"/" + b"a" * 64), "TXT path"),
        (txt(path=b"/w s"), "TXT path"),
        ({**GOOD, **{f"k{i}".encode(): b"x" for i in range(20)}}, "at most 16"),
        ({"network": NET.hex(), "v": "1"}, "keys must be bytes"),
        ([(b"v", b"1")], "not a mapping"),
    ],
)
def test_hostile_txt_records_raise_lan_error(props: Any, why: str) -> None:
    with pytest.raises(LanError, match=why):
        parse_txt(props)


def test_lan_error_is_a_wire_error() -> None:
    from edgenet_app.core.errors import WireError

    assert issubclass(LanError, WireError) and issubclass(LanError, ValueError)


def test_relay_urls_ipv4_first_sorted_and_bounded() -> None:
    addrs: list[bytes | str] = [
        ipaddress.ip_address("fd00::2").packed,
        "192.168.1.20",
        ipaddress.ip_address("10.0.0.5").packed,
        "10.0.0.5",  # duplicate
    ]
    assert relay_urls(GOOD, 8765, addrs, NET) == [
        "ws://10.0.0.5:8765/ws",
        "ws://192.168.1.20:8765/ws",
        "ws://[fd00::2]:8765/ws",
    ]
    many = [f"10.1.0.{i}" for i in range(1, 100)]
    assert len(relay_urls(GOOD, 1, many, NET)) == lan.MAX_ADDRESSES


def test_relay_urls_refuse_other_networks_bad_ports_and_bad_addresses() -> None:
    with pytest.raises(LanError, match="another network"):
        relay_urls(txt(network=OTHER.hex().encode()), 8765, ["10.0.0.5"], NET)
    for port in (0, -1, 65536, 10**30, None, "80", 80.0, True):
        with pytest.raises(LanError, match="port"):
            relay_urls(GOOD, port, ["10.0.0.5"], NET)
    hostile: list[bytes | str] = [
        "0.0.0.0",
        "224.0.0.251",
        "255.255.255.255",
        "240.0.0.1",
        "127.0.0.1",  # loopback is refused unless browsing on loopback
        "::1",
        "fe80::1",  # link-local IPv6 needs a zone id
        "::ffff:10.0.0.1",
        "ff02::fb",
        "not an address",
        "10.0.0.5:80",
        "a" * 10_000,
        b"\x01\x02\x03",
        b"",
    ]
    with pytest.raises(LanError, match="no usable address"):
        relay_urls(GOOD, 8765, hostile, NET)
    with pytest.raises(LanError, match="no usable address"):
        relay_urls(GOOD, 8765, ["10.0.0.5"], NET, loopback=True)
    assert relay_urls(GOOD, 8765, ["127.0.0.1", "10.0.0.5"], NET, loopback=True) == [
        "ws://127.0.0.1:8765/ws"
    ]


_props = st.dictionaries(
    st.one_of(st.sampled_from([b"v", b"network", b"path"]), st.binary(max_size=10)),
    st.one_of(
        st.none(),
        st.binary(max_size=300),
        st.sampled_from([b"1", NET.hex().encode(), b"/ws"]),
    ),
    max_size=20,
)
_addr = st.one_of(
    st.binary(max_size=17),
    st.text(max_size=50),
    st.ip_addresses().map(lambda ip: ip.packed),
    st.ip_addresses().map(str),
)


@given(props=_props, port=st.one_of(st.integers(), st.none(), st.text()), addrs=st.lists(_addr))
def test_random_adverts_only_ever_raise_lan_error(props: Any, port: Any, addrs: Any) -> None:
    try:
        urls = relay_urls(props, port, addrs, NET)
    except LanError:
        return
    assert 1 <= len(urls) <= lan.MAX_ADDRESSES
    assert all(u.startswith("ws://") for u in urls)


def test_order_urls_dedups_puts_ipv4_first_and_caps() -> None:
    urls = [
        "ws://[fd00::1]:80/ws",
        "ws://10.0.0.9:80/ws",
        "ws://10.0.0.10:80/ws",
        "ws://10.0.0.9:80/ws",
        "ws://10.0.0.9:7/ws",
    ]
    assert order_urls(urls) == [
        "ws://10.0.0.9:7/ws",
        "ws://10.0.0.9:80/ws",
        "ws://10.0.0.10:80/ws",
        "ws://[fd00::1]:80/ws",
    ]
    assert order_urls(reversed(urls)) == order_urls(urls)
    assert len(order_urls(f"ws://10.0.{i // 250}.{i % 250}:1/ws" for i in range(100))) == (
        MAX_RELAYS
    )


# --- which addresses a relay advertises ----------------------------------------------------

LOCAL = ["127.0.0.1", "::1", "192.168.1.20", "10.0.0.5", "fe80::1%eth0", "fd00::2", "bogus"]


def test_advert_addresses() -> None:
    assert advert_addresses("0.0.0.0", LOCAL) == ["10.0.0.5", "192.168.1.20"]
    assert advert_addresses("", LOCAL) == ["10.0.0.5", "192.168.1.20"]
    assert advert_addresses("::", LOCAL) == ["10.0.0.5", "192.168.1.20", "fd00::2"]
    assert advert_addresses("192.168.1.20", LOCAL) == ["192.168.1.20"]
    assert advert_addresses("192.168.1.99", LOCAL) == []  # not ours
    assert advert_addresses("127.0.0.1", LOCAL) == []
    assert advert_addresses("relay.lab.example", LOCAL) == []
    assert advert_addresses("0.0.0.0", ["127.0.0.1"]) == []
    assert advert_addresses("127.0.0.1", LOCAL, loopback=True) == ["127.0.0.1"]
    assert advert_addresses("0.0.0.0", [], loopback=True) == ["127.0.0.1"]
    assert advert_addresses("10.0.0.5", LOCAL, loopback=True) == []


def test_is_loopback_host() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "localhost", "LOCALHOST"):
        assert is_loopback_host(host), host
    for host in ("0.0.0.0", "", "::", "10.0.0.5", "relay.lab", "fd00::2"):
        assert not is_loopback_host(host), host


async def test_a_loopback_relay_is_not_advertised_on_the_lan() -> None:
    advert = RelayAdvert(NET, 8765, "127.0.0.1")
    assert await advert.start() == []
    assert "loopback" in advert.reason
    await advert.stop()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        RelayAdvert(b"short", 8765)
    with pytest.raises(ValueError, match="port"):
        RelayAdvert(NET, 0)


async def test_browse_refuses_a_bad_network_id() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        await browse_relays(NET[:31])
    with pytest.raises(ValueError, match="seconds"):
        await browse_relays(NET, float("nan"))


# --- failing soft --------------------------------------------------------------------------


class _Broken:
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise OSError("[Errno 19] No such device (no multicast)")


async def test_no_multicast_means_no_relays_and_no_advert(monkeypatch: pytest.MonkeyPatch) -> None:
    import zeroconf.asyncio

    monkeypatch.setattr(zeroconf.asyncio, "AsyncZeroconf", _Broken)
    started = time.monotonic()
    assert await browse_relays(NET, 5.0) == []
    assert time.monotonic() - started < 1.0  # failed at once, no waiting out the timeout
    advert = RelayAdvert(NET, 8765, "127.0.0.1", loopback=True)
    assert await advert.start() == []
    assert "No such device" in advert.reason
    await advert.stop()


# --- for real, on the loopback interface ---------------------------------------------------


@pytest.fixture
def multicast() -> None:
    ok, why = multicast_works()
    print(f"multicast self-check: {why}")
    if not ok:
        pytest.skip(f"multicast does not work in this sandbox: {why}")


@pytest.mark.usefixtures("multicast")
async def test_browse_with_no_relay_returns_nothing_within_the_timeout() -> None:
    started = time.monotonic()
    assert await browse_relays(os.urandom(32), 1.0, loopback=True) == []
    assert time.monotonic() - started < 1.0 + lan.CLOSE_TIMEOUT_S


@pytest.mark.slow  # long-running: real network or UI round trips, seconds each
@pytest.mark.usefixtures("multicast")
async def test_an_advert_is_found_and_hostile_ones_are_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from zeroconf import IPVersion, ServiceInfo
    from zeroconf.asyncio import AsyncZeroconf

    hostile = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    bad = [
        ({"network": OTHER.hex(), "path": "/ws", "v": "1"}, 9001, "127.0.0.1"),  # other net
        ({"network": NET.hex()[:40], "path": "/ws", "v": "1"}, 9002, "127.0.0.1"),
        ({"network": NET.hex(), "path": "//evil/ws", "v": "1"}, 9003, "127.0.0.1"),
        ({"network": NET.hex(), "path": "/ws", "v": "9"}, 9004, "127.0.0.1"),
        ({"network": NET.hex(), "path": "/ws", "v": "1"}, 9005, "10.9.9.9"),  # not loopback
    ]
    try:
        infos = [
            ServiceInfo(
                SERVICE_TYPE,
                f"hostile {n}.{SERVICE_TYPE}",
                port=port,
                properties=props,
                server=f"hostile-{n}.local.",
                parsed_addresses=[addr],
            )
            for n, (props, port, addr) in enumerate(bad)
        ]
        # probing takes about a second per service: register them all at once
        advert = RelayAdvert(NET, 8765, "127.0.0.1", loopback=True)
        await asyncio.gather(advert.start(), *(hostile.async_register_service(i) for i in infos))
        try:
            assert advert.urls == ["ws://127.0.0.1:8765/ws"], advert.reason
            started = time.monotonic()
            with caplog.at_level(logging.DEBUG, logger="edgenet_app.runtime.net.lan"):
                found = await browse_relays(NET, 3.0, loopback=True)
            assert time.monotonic() - started < 3.0 + lan.CLOSE_TIMEOUT_S
            assert found == ["ws://127.0.0.1:8765/ws"]
        finally:
            await advert.stop()
        # every hostile advert reached the browser and was refused, each for its reason
        skipped = {
            r.getMessage().split("'")[1]: r.getMessage()
            for r in caplog.records
            if r.getMessage().startswith("mDNS: skipping 'hostile")
        }
        assert sorted(skipped) == [f"hostile {n}.{SERVICE_TYPE}" for n in range(len(bad))]
        for n, why in enumerate(["another network", "64 hex", "TXT path", "only v=1", "usable"]):
            assert why in skipped[f"hostile {n}.{SERVICE_TYPE}"]
        # the advert said goodbye: a new browse no longer finds it
        assert await browse_relays(NET, 2.0, loopback=True) == []
    finally:
        await hostile.async_close()


# --- a real LAN, in a private network namespace --------------------------------------------

NETNS_SETUP = (
    "ip link add v0 type veth peer name v1 && ip addr add 10.200.0.1/24 dev v0 && "
    "ip addr add 10.200.0.2/24 dev v1 && ip link set v0 up && ip link set v1 up && "
    "ip link set lo up"
)

LAN_SCRIPT = """
import asyncio, json, subprocess, sys
from edgenet_app.core.default_network import default_network
from edgenet_app.core.identity import Identity
from edgenet_app.runtime.net.lan import browse_relays
from edgenet_app.runtime.net.relay_client import RelayClient

async def main() -> None:
    net = default_network().network_id
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgenet_app", "--data-dir", sys.argv[1], "relay",
         "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip(), proc.stdout.readline().strip()]
        urls = await browse_relays(net)
        joined = []
        for url in urls:
            async with RelayClient(url, Identity.generate(), net):
                joined.append(url)
        other = await browse_relays(bytes(32), 1.0)
    finally:
        proc.terminate()
        code = proc.wait(10)
    print(json.dumps({"lines": lines, "urls": urls, "joined": joined, "other": other,
                      "code": code}))

asyncio.run(main())
"""


@pytest.mark.slow
def test_relay_command_is_found_on_a_lan(tmp_path: Path) -> None:
    """`edgenet relay --host 0.0.0.0` and a default browse, on a veth pair (10.200.0.1 and
    .2) inside a network namespace of their own: real LAN interfaces, nothing leaves it."""
    unshare = shutil.which("unshare")
    if unshare is None or shutil.which("ip") is None:
        pytest.skip("no unshare or ip command to make a private network namespace")
    check = subprocess.run(
        [unshare, "-n", "sh", "-c", NETNS_SETUP], capture_output=True, text=True, timeout=30
    )
    if check.returncode != 0:
        pytest.skip(f"cannot make a private network namespace here: {check.stderr.strip()}")
    script = tmp_path / "lan_script.py"
    script.write_text(LAN_SCRIPT)
    cmd = f"{NETNS_SETUP} && exec {shlex.quote(sys.executable)} {shlex.quote(str(script))} "
    cmd += shlex.quote(str(tmp_path / "data"))
    out = subprocess.run(
        [unshare, "-n", "sh", "-c", cmd], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    port = int(result["lines"][0].rsplit(":", 1)[1].split("/")[0])
    urls = [f"ws://10.200.0.1:{port}/ws", f"ws://10.200.0.2:{port}/ws"]
    assert result["lines"][1] == (
        f"advertised on the local network (mDNS {SERVICE_TYPE}) as {', '.join(urls)}"
    )
    assert result["urls"] == urls  # IPv4, sorted; link-local IPv6 and loopback left out
    assert result["joined"] == urls  # the relay handshake works on each
    assert result["other"] == []  # another network's browse finds nothing
    assert result["code"] == 0


# --- `edgenet relay` -----------------------------------------------------------------------


class _FakeAdvert:
    made: ClassVar[list[tuple[bytes, int, str]]] = []
    stopped: ClassVar[int] = 0

    def __init__(self, network: bytes, port: int, host: str) -> None:
        self.made.append((network, port, host))
        self.urls = [f"ws://10.0.0.5:{port}/ws"]
        self.reason = ""

    async def start(self) -> list[str]:
        return self.urls

    async def stop(self) -> None:
        type(self).stopped += 1


@pytest.fixture
def fake_advert(monkeypatch: pytest.MonkeyPatch) -> type[_FakeAdvert]:
    async def stopped_at_once() -> None:
        return None

    _FakeAdvert.made = []
    _FakeAdvert.stopped = 0
    monkeypatch.setattr(lan, "RelayAdvert", _FakeAdvert)
    monkeypatch.setattr("edgenet_app.cli.relay_cmd.until_stopped", stopped_at_once)
    return _FakeAdvert


def test_relay_command_advertises_on_a_lan_host(
    fake_advert: type[_FakeAdvert], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["--data-dir", str(tmp_path), "relay", "--host", "0.0.0.0", "--port", "0"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].startswith("relay for network") and "listening on ws://0.0.0.0:" in out[0]
    assert len(fake_advert.made) == 1 and fake_advert.stopped == 1
    _, port, host = fake_advert.made[0]
    assert host == "0.0.0.0" and port > 0
    assert out[1] == (
        f"advertised on the local network (mDNS {SERVICE_TYPE}) as ws://10.0.0.5:{port}/ws"
    )


@pytest.mark.parametrize(
    "argv", [["--host", "0.0.0.0", "--no-mdns"], ["--host", "127.0.0.1"], ["--host", "localhost"]]
)
def test_relay_command_does_not_advertise_loopback_or_with_no_mdns(
    fake_advert: type[_FakeAdvert],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
) -> None:
    assert main(["--data-dir", str(tmp_path), "relay", "--port", "0", *argv]) == 0
    out = capsys.readouterr().out
    assert fake_advert.made == [] and "advertised" not in out


@pytest.mark.slow  # long-running: real network or UI round trips, seconds each
@pytest.mark.usefixtures("multicast")
async def test_a_node_with_no_relay_configured_finds_one_on_the_lan(tmp_path: Path) -> None:
    from edgenet_app.core.genesis import Genesis
    from edgenet_app.core.identity import Identity as Ident
    from edgenet_app.runtime.net.lan import RelayAdvert
    from edgenet_app.runtime.net.relay import serve
    from edgenet_app.runtime.node import Node, NodeError, NodeOptions

    genesis = Genesis.create(Ident.generate(), "lan-node", int(time.time() * 1000) - 60_000)
    runner, port = await serve(genesis, "127.0.0.1", 0)
    try:
        lonely = Node(
            tmp_path / "a",
            genesis,
            NodeOptions(loopback=True, mdns=False, policy=Policy(max_other_cpu=1.0)),
        )
        with pytest.raises(NodeError, match="no relay"):
            await lonely.start()
        async with RelayAdvert(genesis.network_id, port, "127.0.0.1", loopback=True):
            node = Node(
                tmp_path / "b",
                genesis,
                NodeOptions(loopback=True, mdns=True, policy=Policy(max_other_cpu=1.0)),
            )
            await node.start()
            try:
                assert node.mesh is not None
                assert node.mesh.hub.relay.url == f"ws://127.0.0.1:{port}/ws"
            finally:
                await node.stop()
    finally:
        await runner.cleanup()
