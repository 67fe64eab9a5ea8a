"""LAN discovery of relays with mDNS / DNS-SD (zeroconf).

A relay advertises itself as a `_edgenet-relay._tcp.local.` service whose TXT record says
which network it serves (`network=<64 hex digits>`), its websocket path (`path=/ws`) and the
record version (`v=1`); `browse_relays` finds the relays of one network and returns their
`ws://` URLs. Lab and kiosk operators run one relay on the LAN and nodes find it with no
configuration.

Discovery is only a hint. Everything that comes off the network here is untrusted and is
validated (hex network id, path, port, address kinds, bounded counts). A relay found this
way then goes through the normal relay handshake, exactly like a configured one: its
challenge must name the same network id, and it admits only peers that sign a hello for
that network. A relay has no key of its own, so that proves nothing about who runs it: what
protects a node is that ledger events and task messages are signed by peers' keys and
payloads are sealed to the recipient's key. A fake advert can deny service, split nodes off
the real relay and see who is online (see SECURITY.md), not forge or read what peers send.

Everything fails soft: with no multicast, no interfaces or a broken network, browsing returns
an empty list within its timeout and advertising advertises nothing, each with a debug or
warning log; neither raises for what the network sends.

`loopback=True` keeps both sides on 127.0.0.1 and the loopback interface (tests and
single-machine demos: nothing is sent on the LAN); otherwise loopback addresses are neither
advertised nor accepted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import os
import re
import socket
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Self

from ...core.errors import WireError

if TYPE_CHECKING:  # zeroconf is imported when used (about 0.1 s)
    from zeroconf.asyncio import AsyncZeroconf

log = logging.getLogger(__name__)

SERVICE_TYPE = "_edgenet-relay._tcp.local."
TXT_VERSION = "1"
DEFAULT_PATH = "/ws"
MAX_RELAYS = 16  # URLs returned by one browse
MAX_SERVICES = 64  # service names resolved by one browse; more are ignored
MAX_ADDRESSES = 8  # addresses used per service
MAX_TXT_ENTRIES = 16
MAX_TIMEOUT_S = 60.0
CLOSE_TIMEOUT_S = 2.0
REGISTER_TIMEOUT_S = 10.0

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_PATH = re.compile(r"(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+")  # no "//", "/.", "/.."

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class LanError(WireError):
    """An mDNS advertisement could not be accepted (bad TXT record, port or addresses)."""


# --- validation of what comes off the network (pure) --------------------------------------


def _txt_text(properties: Mapping[bytes, bytes | None], key: bytes) -> str | None:
    value = properties.get(key)
    if value is None:
        return None
    if not isinstance(value, bytes) or len(value) > 255:
        raise LanError(f"TXT {key.decode()}: not a short byte string")
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        raise LanError(f"TXT {key.decode()}: not ASCII") from None


def parse_txt(properties: Mapping[bytes, bytes | None]) -> tuple[bytes, str]:
    """The (network id, websocket path) a relay's TXT record declares.

    Raises `LanError` unless the record has `v=1`, `network=` exactly 64 hex digits and an
    optional `path=` (default `/ws`): at most 64 characters, `/`-separated non-empty segments
    of `A-Z a-z 0-9 . _ ~ -` that do not start with a dot.
    """
    if not isinstance(properties, Mapping):
        raise LanError("TXT record is not a mapping")
    if len(properties) > MAX_TXT_ENTRIES:
        raise LanError(f"TXT record has {len(properties)} entries; at most {MAX_TXT_ENTRIES}")
    if not all(isinstance(k, bytes) for k in properties):
        raise LanError("TXT keys must be bytes")
    version = _txt_text(properties, b"v")
    if version != TXT_VERSION:
        raise LanError(f"TXT v={version!r:.20}: only v={TXT_VERSION} is understood")
    net = _txt_text(properties, b"network")
    if net is None or not _HEX64.fullmatch(net):
        raise LanError("TXT network: expected 64 hex digits")
    path = _txt_text(properties, b"path")
    if path is None:
        path = DEFAULT_PATH
    elif len(path) > 64 or not _PATH.fullmatch(path):
        raise LanError(
            f"TXT path {path[:40]!r}: expected /segments of A-Z a-z 0-9 . _ ~ -, at most 64 chars"
        )
    return bytes.fromhex(net), path


def _usable(ip: IPAddress, *, loopback: bool) -> bool:
    """An address a node may dial: loopback ones only (and only them) with `loopback`; never
    unspecified, multicast, reserved (incl. 255.255.255.255), link-local IPv6 (it needs a zone
    id) or IPv4-mapped IPv6."""
    if ip.is_loopback or loopback:
        return ip.is_loopback and loopback
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return False
    return not (isinstance(ip, ipaddress.IPv6Address) and ip.is_link_local)


def _parse_address(addr: object) -> IPAddress:
    if isinstance(addr, bytes) and len(addr) in (4, 16):
        return ipaddress.ip_address(addr)
    if isinstance(addr, str) and len(addr) <= 64:
        try:
            return ipaddress.ip_address(addr)
        except ValueError:
            pass
    raise LanError(f"not an IP address: {addr!r:.60}")


def _url(ip: IPAddress, port: int, path: str) -> str:
    host = f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
    return f"ws://{host}:{port}{path}"


def relay_urls(
    properties: Mapping[bytes, bytes | None],
    port: object,
    addresses: Iterable[bytes | str],
    network: bytes,
    *,
    loopback: bool = False,
) -> list[str]:
    """The `ws://` URLs of one advertised relay of `network`, IPv4 first.

    Raises `LanError` if the TXT record is bad or names another network, the port is not
    1–65535, or no address is usable (unspecified, multicast, link-local IPv6 and, unless
    `loopback`, loopback addresses are skipped; with `loopback` only loopback is used).
    """
    net, path = parse_txt(properties)
    if net != network:
        raise LanError(f"serves another network ({net.hex()[:16]}…)")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise LanError(f"port {port!r:.20}: allowed 1–65535")
    ips: list[IPAddress] = []
    for n, addr in enumerate(addresses):
        if n >= 4 * MAX_ADDRESSES:
            break
        try:
            ip = _parse_address(addr)
        except LanError:
            continue
        if _usable(ip, loopback=loopback) and ip not in ips:
            ips.append(ip)
    if not ips:
        raise LanError("no usable address")
    ips.sort(key=lambda ip: (ip.version, int(ip)))
    return [_url(ip, port, path) for ip in ips[:MAX_ADDRESSES]]


def order_urls(urls: Iterable[str]) -> list[str]:
    """Deduplicate, order (IPv4 first, then by address and port) and cap at `MAX_RELAYS`.

    The order is the same on every node, so nodes that see the same relays pick the same
    first one and meet there.
    """

    def key(url: str) -> tuple[int, int, int, str]:
        hostport = url.split("/", 3)[2]
        host, _, port = hostport.rpartition(":")
        ip = ipaddress.ip_address(host.strip("[]"))
        return (ip.version, int(ip), int(port), url)

    return sorted(set(urls), key=key)[:MAX_RELAYS]


# --- which addresses a relay should advertise (pure) --------------------------------------

_ANY = ("", "0.0.0.0", "::", "*")


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost` (an `edgenet relay --host` value)."""
    if host.lower() in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def advert_addresses(host: str, local: Iterable[str], *, loopback: bool = False) -> list[str]:
    """The addresses to advertise for a relay listening on `host`, given the machine's
    addresses `local` (IPv4 first, sorted).

    A wildcard host (`0.0.0.0`, `""`) gives every non-loopback IPv4 address (`::` adds the
    IPv6 ones that need no zone id); a specific address gives itself if it is local and not
    loopback; anything else (loopback, a host name) gives nothing. With `loopback`,
    `127.0.0.1` if the relay accepts connections there, else nothing.
    """
    if loopback:
        ok = host in _ANY or host in ("127.0.0.1", "localhost")
        return ["127.0.0.1"] if ok else []
    ips: list[IPAddress] = []
    for text in local:
        try:
            ip = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            continue
        if _usable(ip, loopback=False) and ip not in ips:
            ips.append(ip)
    if host in ("", "0.0.0.0", "*"):
        chosen: list[IPAddress] = [ip for ip in ips if ip.version == 4]
    elif host == "::":
        chosen = ips
    else:
        try:
            want = ipaddress.ip_address(host)
        except ValueError:
            return []
        chosen = [ip for ip in ips if ip == want]
    chosen.sort(key=lambda ip: (ip.version, int(ip)))
    return [ip.compressed for ip in chosen]


def local_addresses() -> list[str]:
    """Every address of this machine's interfaces (ifaddr), as text."""
    import ifaddr

    out: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            out.append(ip.ip if isinstance(ip.ip, str) else ip.ip[0])
    return out


# --- the network side ---------------------------------------------------------------------


class RelayAdvert:
    """Advertise a running relay on the LAN (`async with RelayAdvert(...) as advert:` or
    `await advert.start()` … `await advert.stop()`).

    `start()` returns the URLs advertised; it is empty when nothing is advertised (loopback
    host, no LAN address, multicast unavailable) and `reason` then says why. It never raises
    for network trouble.
    """

    def __init__(
        self, network: bytes, port: int, host: str = "0.0.0.0", *, loopback: bool = False
    ) -> None:
        if not isinstance(network, bytes) or len(network) != 32:
            raise ValueError("network must be the 32-byte network id")
        if not 1 <= port <= 65535:
            raise ValueError(f"port {port}: allowed 1–65535")
        self.network = network
        self.port = port
        self.host = host
        self.loopback = loopback
        self.urls: list[str] = []
        self.reason = "not started"
        self._zc: AsyncZeroconf | None = None

    async def start(self) -> list[str]:
        if self._zc is not None:
            return self.urls
        if not self.loopback and is_loopback_host(self.host):
            self.reason = f"the relay listens on {self.host} (loopback) only"
            log.info("mDNS: not advertising: %s", self.reason)
            return []
        try:
            local = [] if self.loopback else local_addresses()
        except Exception as exc:  # ifaddr reads the OS's interface list
            local = []
            log.debug("mDNS: could not list interfaces: %s", exc)
        addrs = advert_addresses(self.host, local, loopback=self.loopback)
        if not addrs:
            self.reason = f"no LAN address to advertise for --host {self.host or '(any)'}"
            if not self.loopback and self.host not in _ANY:
                self.reason += " (give --host as this machine's IP address, or 0.0.0.0)"
            log.info("mDNS: not advertising: %s", self.reason)
            return []
        try:
            await asyncio.wait_for(self._register(addrs), REGISTER_TIMEOUT_S)
        except Exception as exc:  # no multicast, interface gone, name clash storm, ...
            self.reason = f"mDNS unavailable: {exc or type(exc).__name__}"
            log.warning("mDNS: not advertising: %s", self.reason)
            await self.stop()
            return []
        ips = [ipaddress.ip_address(a) for a in addrs]
        self.urls = [_url(ip, self.port, DEFAULT_PATH) for ip in ips]
        self.reason = ""
        log.info("mDNS: advertising %s as %s", SERVICE_TYPE, ", ".join(self.urls))
        return self.urls

    async def _register(self, addrs: list[str]) -> None:
        from zeroconf import IPVersion, ServiceInfo
        from zeroconf.asyncio import AsyncZeroconf

        v4 = [a for a in addrs if ipaddress.ip_address(a).version == 4]
        version = IPVersion.V4Only if v4 else IPVersion.V6Only
        interfaces: list[str | int] = list(v4 or addrs)
        zc = AsyncZeroconf(interfaces=interfaces, ip_version=version)
        self._zc = zc
        token = os.urandom(4).hex()
        info = ServiceInfo(
            SERVICE_TYPE,
            f"edgenet relay {self.network.hex()[:12]} {token}.{SERVICE_TYPE}",
            port=self.port,
            properties={"network": self.network.hex(), "path": DEFAULT_PATH, "v": TXT_VERSION},
            server=f"edgenet-relay-{token}.local.",
            parsed_addresses=addrs,
        )
        await (await zc.async_register_service(info, allow_name_change=True))

    async def stop(self) -> None:
        """Withdraw the advert (goodbye packets) and close; safe to call twice."""
        zc, self._zc = self._zc, None
        self.urls = []
        if zc is not None:
            try:
                await asyncio.wait_for(zc.async_close(), CLOSE_TIMEOUT_S)
            except Exception as exc:
                log.debug("mDNS: close failed: %s", exc)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def browse_relays(
    network: bytes, timeout_s: float = 2.0, *, loopback: bool = False
) -> list[str]:
    """Find relays of `network` on the LAN: their `ws://host:port/path` URLs, IPv4 first,
    deduplicated, in an order every node computes alike, at most `MAX_RELAYS`.

    Browses for the whole `timeout_s` (0–60 s; every relay that answers in time is listed,
    so nodes agree on the first one), or returns `[]` at once when mDNS cannot start (no
    multicast, no interface), logging why at debug level; it never raises for the network.
    Services of other networks and malformed adverts are skipped (debug log).

    A URL returned here is only a hint: connect
    with `RelayClient`, whose handshake checks that the relay serves `network` (the relay's
    word: relays have no keys; peers' messages are what is authenticated, by their keys).
    `loopback=True` browses on 127.0.0.1 only and accepts only loopback addresses.
    """
    if not isinstance(network, bytes) or len(network) != 32:
        raise ValueError("network must be the 32-byte network id")
    if not (isinstance(timeout_s, int | float) and math.isfinite(timeout_s)):
        raise ValueError("timeout_s must be a number of seconds")
    timeout_s = min(max(float(timeout_s), 0.0), MAX_TIMEOUT_S)
    try:
        return await _browse(network, timeout_s, loopback)
    except Exception as exc:  # fail soft: mDNS is a convenience, never a reason to crash
        log.debug("mDNS: browse failed: %s", exc, exc_info=True)
        return []


async def _browse(network: bytes, timeout_s: float, loopback: bool) -> list[str]:
    from zeroconf import DNSQuestionType, InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

    deadline = time.monotonic() + timeout_s
    # Ask for multicast answers (QM), also in the first query: a unicast (QU) answer to port
    # 5353 reaches only one of the mDNS sockets on a machine, so a relay and a node on one
    # machine (or a test) would otherwise miss it until the second query, a second later.
    QM = DNSQuestionType.QM
    interfaces: list[str | int] | InterfaceChoice = (
        ["127.0.0.1"] if loopback else InterfaceChoice.All
    )
    zc = AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
    found: dict[str, list[str]] = {}
    tasks: dict[str, asyncio.Task[None]] = {}

    async def resolve(name: str) -> None:
        remaining_ms = (deadline - time.monotonic()) * 1000
        if remaining_ms < 1:
            return
        try:
            info = AsyncServiceInfo(SERVICE_TYPE, name)
            if not await info.async_request(zc.zeroconf, remaining_ms, question_type=QM):
                return
            urls = relay_urls(
                info.properties,
                info.port,
                info.addresses_by_version(IPVersion.All),
                network,
                loopback=loopback,
            )
        except Exception as exc:  # LanError, or zeroconf refusing a hostile name
            log.debug("mDNS: skipping %r: %s", name[:80], exc)
            found.pop(name, None)
            return
        found[name] = urls

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            found.pop(name, None)
            return
        if name not in tasks and len(tasks) >= MAX_SERVICES:
            return
        old = tasks.get(name)
        if old is None or old.done():
            tasks[name] = asyncio.create_task(resolve(name))

    browser: AsyncServiceBrowser | None = None
    try:
        browser = AsyncServiceBrowser(
            zc.zeroconf, SERVICE_TYPE, handlers=[on_change], question_type=QM
        )
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))
    finally:
        for task in tasks.values():
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks.values(), return_exceptions=True)
        try:
            if browser is not None:
                await browser.async_cancel()
            await asyncio.wait_for(zc.async_close(), CLOSE_TIMEOUT_S)
        except Exception as exc:
            log.debug("mDNS: close failed: %s", exc)
    urls = order_urls(u for name in sorted(found) for u in found[name])
    log.debug("mDNS: found %d relay URL(s) for network %s…", len(urls), network.hex()[:16])
    return urls


def multicast_works(timeout_s: float = 1.0) -> tuple[bool, str]:
    """Whether IPv4 multicast to the mDNS group loops back on 127.0.0.1 here (a quick
    self-check for tests): (ok, reason). Sends only on the loopback interface."""
    group = "224.0.0.251"
    recv = send = None
    try:
        recv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        recv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        recv.bind(("", 0))
        port = recv.getsockname()[1]
        mreq = socket.inet_aton(group) + socket.inet_aton("127.0.0.1")
        recv.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        recv.settimeout(timeout_s)
        send = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        send.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        send.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        send.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        token = os.urandom(16)
        send.sendto(token, (group, port))
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            data, _ = recv.recvfrom(64)
            if data == token:
                return True, "multicast loops back on 127.0.0.1"
        return False, "no multicast datagram came back on 127.0.0.1"
    except TimeoutError:
        return False, f"no multicast datagram came back on 127.0.0.1 within {timeout_s} s"
    except OSError as exc:
        return False, f"multicast on 127.0.0.1 failed: {exc}"
    finally:
        for s in (recv, send):
            if s is not None:
                s.close()


__all__ = [
    "MAX_RELAYS",
    "SERVICE_TYPE",
    "LanError",
    "RelayAdvert",
    "advert_addresses",
    "browse_relays",
    "is_loopback_host",
    "multicast_works",
    "order_urls",
    "parse_txt",
    "relay_urls",
]
