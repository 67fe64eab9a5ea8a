"""The `edgenet` program runs aiortc without PyAV (runtime/net/no_media.py): data channels
work, media use fails loudly, and FFmpeg is never mapped into the process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # every test here runs a Python process

PROBE = textwrap.dedent(
    """
    import asyncio, sys
    from edgenet_app.runtime.net import no_media
    assert no_media.install()
    from aiortc import RTCPeerConnection
    import av
    from edgenet_app.runtime.net.webrtc import configuration, loopback_only

    loopback_only()

    async def main():
        a, b = RTCPeerConnection(configuration()), RTCPeerConnection(configuration())
        got = asyncio.get_running_loop().create_future()

        @b.on("datachannel")
        def on_channel(ch):
            ch.on("message", lambda m: got.done() or got.set_result(m))

        ch = a.createDataChannel("x")
        ch.on("open", lambda: ch.send("over a data channel"))
        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(a.localDescription)
        await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(b.localDescription)
        print(await asyncio.wait_for(got, 20))
        await a.close(); await b.close()

    asyncio.run(main())
    try:
        av.CodecContext.create("h264", "r")
    except AttributeError as exc:
        print(type(exc).__name__, exc)
    print("stand-in" if type(av).__name__ == "_StandInModule" else "real av")
    maps = open("/proc/self/maps").read() if sys.platform == "linux" else ""
    print("ffmpeg mapped" if "libavcodec" in maps else "no ffmpeg")
    """
)


def test_data_channels_work_without_pyav_and_media_use_is_refused() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0] == "over a data channel"
    assert lines[1] == (
        "MediaUnavailable edgenet does not load PyAV (audio/video): "
        "av.CodecContext.create is unavailable in this process"
    )
    assert lines[2:] == ["stand-in", "no ffmpeg"]


def test_install_steps_aside_when_pyav_may_already_be_in_use() -> None:
    probe = (
        "import aiortc, sys\n"
        "from edgenet_app.runtime.net import no_media\n"
        "print(no_media.install(), type(sys.modules['av']).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "module"]  # a library user's own PyAV is kept
