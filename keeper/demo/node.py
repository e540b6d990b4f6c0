"""Connecting the demo to its embedded anvil.

ape-foundry always starts anvil with ``--steps-tracing`` (every EVM step recorded, so ape can show
call traces). The demo's keeper transactions are heavy (a rebalance swaps, trades the perp and moves
margin in ~1M gas); with step tracing anvil takes 0.2-0.4 s to mine each of them, without it a few
milliseconds, which takes a simulated hour from ~1 s to ~0.25 s. `connect` starts the node without step
tracing unless asked (nothing in the demo needs traces: reverts are decoded from their data).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def connect(network: str = "ethereum:local:foundry", *, steps_tracing: bool = False) -> Iterator[Any]:
    """Connect ape to `network` for the duration of the block (yields the provider)."""
    from ape import networks

    patched = None
    if not steps_tracing:
        try:
            from ape_foundry.provider import FoundryProvider
        except ImportError:  # another provider plugin: nothing to change
            FoundryProvider = None
        if FoundryProvider is not None:
            original = FoundryProvider.build_command

            def build_command(self: Any) -> list[str]:
                return [arg for arg in original(self) if arg != "--steps-tracing"]

            FoundryProvider.build_command = build_command  # type: ignore[method-assign]
            patched = (FoundryProvider, original)
    try:
        with networks.parse_network_choice(network) as provider:
            yield provider
    finally:
        if patched is not None:
            patched[0].build_command = patched[1]  # type: ignore[method-assign]
