"""`edgenet relay`: run the signaling and bootstrap relay for a network."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from ..runtime.store.networks import load_network
from . import logs
from .io import until_stopped
from .network_cmd import add_network_option


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "relay", help="run a signaling/bootstrap relay (websockets) for a network"
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    p.add_argument(
        "--port", type=int, default=8765, help="port (0 = any free port; default: %(default)s)"
    )
    p.add_argument(
        "--no-mdns",
        dest="mdns",
        action="store_false",
        help="do not advertise the relay on the local network with mDNS (by default it is "
        "advertised when --host is not a loopback address)",
    )
    add_network_option(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..runtime.net.relay import serve

    if not 0 <= args.port <= 65535:
        raise SystemExit(f"edgenet: error: --port {args.port}: allowed 0–65535")
    genesis = load_network(args.network)
    logs.show_progress(args.verbose)

    async def main() -> None:
        from ..runtime.net.lan import SERVICE_TYPE, RelayAdvert, is_loopback_host

        runner, port = await serve(genesis, args.host, args.port)
        print(
            f"relay for network {genesis.name} ({genesis.network_id.hex()[:16]}…) "
            f"listening on ws://{args.host}:{port}/ws",
            flush=True,
        )
        advert = None
        if args.mdns and not is_loopback_host(args.host):
            advert = RelayAdvert(genesis.network_id, port, args.host)
            if await advert.start():
                print(
                    f"advertised on the local network (mDNS {SERVICE_TYPE}) as "
                    + ", ".join(advert.urls),
                    flush=True,
                )
            else:
                print(f"not advertised on the local network: {advert.reason}", flush=True)
        try:
            await until_stopped()
        finally:
            if advert is not None:
                await advert.stop()
            await runner.cleanup()

    asyncio.run(main())
    return 0
