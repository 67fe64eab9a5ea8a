"""The built-in network for people who pass no `--network FILE`.

It is an ordinary signed genesis document (its creator key was thrown away after
signing, so nobody can issue another document with this id). It grants no credits:
credits on it come only from the minting rules. It names no relay yet; peers find each
other on the LAN (mDNS) or through relays set in the settings.
"""

from __future__ import annotations

from functools import cache

from .genesis import Genesis

DEFAULT_NETWORK_HEX = (
    "82a4626f647988aa637265617465645f6d73cf000001a20ada2c00a763726561746f72c4206c53dd57731bef"
    "9ae5bd153336e9b83639a13971c6ba11892c67ec58fa848cd0a6666f726d6174af656467656e65742d67656e"
    "65736973a66772616e747390ab6963655f7365727665727391bc7374756e3a7374756e2e6c2e676f6f676c65"
    "2e636f6d3a3139333032a46e616d65a7656467656e6574a672656c61797390a776657273696f6e01a3736967"
    "c4401e2a1066b6f42f792c7866af121cdbff11cabc6931cda085f3c417cde7df7a68916e10d3e14de8ea3a32"
    "337e34804ad2a284b5071ed11563b0fcf22ec0cd5803"
)
DEFAULT_NETWORK_ID_HEX = "70cb7d002b05ade1433301d2a79c733627f8b884fb0473eb271a931b02eb1d88"


@cache
def default_network() -> Genesis:
    genesis = Genesis.load(bytes.fromhex(DEFAULT_NETWORK_HEX))
    assert genesis.network_id.hex() == DEFAULT_NETWORK_ID_HEX
    return genesis
