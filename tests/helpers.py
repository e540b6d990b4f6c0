"""Small test helpers shared by the contract tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, Phase, settings

USDC = 10**6
SHARE = 10**12  # one whole vault share (6 asset decimals + 6 offset decimals)
MAX_UINT = 2**256 - 1

# Chain-backed property tests: each example costs real transactions, so examples are few but the
# inputs are drawn widely; the database is off so CI and local runs are reproducible. Shrinking is
# off: over real transactions it can take many minutes, and the failing example is printed anyway.
chain_settings = settings(
    max_examples=12,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextmanager
def isolated(chain) -> Iterator[None]:
    """Run a block against a chain snapshot and roll back afterwards (one hypothesis example)."""
    snap = chain.snapshot()
    try:
        yield
    finally:
        chain.restore(snap)


def fund_leg_with_gain(vault, leg, usdc, keeper, admin, deployed: int, gain: int, sink) -> None:
    """Deploy `deployed` idle assets to the leg, then book a gain (>0) or loss (<0) there."""
    if deployed:
        vault.fundLeg(leg, deployed, sender=keeper)
    if gain > 0:
        usdc.mint(leg, gain, sender=admin)
    elif gain < 0:
        leg.loseAssets(sink, -gain, sender=admin)


def rebalance_fields(nonce: int, deadline: int, /, **kw) -> dict:
    """`IKeelVaultActions.RebalanceParams` by field name, in ABI order: nothing traded unless `kw` says so."""
    return {
        "expectedNonce": nonce,
        "deadline": deadline,
        "spotBuyEth": True,
        "spotAmountIn": 0,
        "spotMinOut": 0,
        "perpSizeDeltaWad": 0,
        "perpLimitPriceWad": 0,
        "perpMarginDeltaAssets": 0,
        "allowImprovement": False,
    } | kw


def option_fields(nonce: int, deadline: int, sid: int, /, **kw) -> dict:
    """`IKeelVaultActions.OptionTradeParams` by field name, in ABI order (a sale of nothing by default)."""
    return {
        "expectedNonce": nonce,
        "deadline": deadline,
        "seriesId": sid,
        "isBuy": False,
        "sizeWad": 0,
        "limitAssets": 0,
        "fundAssets": 0,
        "allowImprovement": False,
    } | kw
