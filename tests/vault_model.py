"""Integer reference model of KeelVault's share and fee arithmetic.

Written from the formulas in contracts/libraries/FeeMath.sol and the vault's NatSpec, not from
the Solidity code, so a test that compares the chain against it to the unit checks the contract
against its specification.
"""

from __future__ import annotations

from dataclasses import dataclass

DECIMALS_OFFSET = 6
VIRTUAL_SHARES = 10**DECIMALS_OFFSET
PRICE_SCALE = 10 ** (18 + DECIMALS_OFFSET)
BPS = 10_000
YEAR = 365 * 24 * 3600


def mul_div(x: int, y: int, d: int, up: bool = False) -> int:
    q, r = divmod(x * y, d)
    return q + 1 if (up and r) else q


def share_price_wad(assets: int, supply: int) -> int:
    """Price of one whole share in whole assets, 1e18 = 1:1 (rounded down)."""
    return mul_div(assets + 1, PRICE_SCALE, supply + VIRTUAL_SHARES)


@dataclass(frozen=True)
class FeeQuote:
    management_fee_assets: int
    performance_fee_assets: int
    fee_shares: int
    high_water_mark_wad: int


def quote_fees(
    assets: int, supply: int, elapsed: int, mgmt_bps: int, perf_bps: int, hwm_wad: int
) -> FeeQuote:
    """Fees an accrual would charge: management fee on assets over `elapsed` seconds, then the
    performance fee on the price (net of the management fee) above the high-water mark."""
    if (mgmt_bps == 0 and perf_bps == 0) or supply == 0:
        return FeeQuote(0, 0, 0, hwm_wad)
    vs = supply + VIRTUAL_SHARES
    va = assets + 1
    m = min(mul_div(assets, mgmt_bps * elapsed, BPS * YEAR), assets)
    price = mul_div(va - m, PRICE_SCALE, vs)
    f = mul_div(price - hwm_wad, vs * perf_bps, PRICE_SCALE * BPS) if price > hwm_wad else 0
    fee = m + f
    shares = mul_div(fee, vs, va - fee) if 0 < fee < va else 0
    after = mul_div(va, PRICE_SCALE, vs + shares)
    return FeeQuote(m, f, shares, max(hwm_wad, after))


def to_shares(assets: int, total_assets: int, supply: int, up: bool = False) -> int:
    return mul_div(assets, supply + VIRTUAL_SHARES, total_assets + 1, up)


def to_assets(shares: int, total_assets: int, supply: int, up: bool = False) -> int:
    return mul_div(shares, total_assets + 1, supply + VIRTUAL_SHARES, up)
