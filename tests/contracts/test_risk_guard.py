"""RiskGuard: every bound at its edge, the improvement rule, governance bounds, and the Python mirror."""

from __future__ import annotations

import ape
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper import guard as kg
from tests.helpers import USDC, chain_settings

WAD = kg.WAD
HARD_MAX_NOTIONAL = 50_000_000 * USDC

PARAMS = kg.GuardParams(
    max_net_delta_wad=5 * WAD,
    min_margin_ratio_wad=15 * WAD // 10,
    max_leverage_wad=3 * WAD,
    max_slippage_bps=50,
    min_action_interval_sec=60,
    max_notional_per_action_assets=1_000_000 * USDC,
    delta_trigger_wad=2 * WAD,
    margin_trigger_wad=2 * WAD,
)
CALM = kg.BookState(
    net_delta_wad=0, margin_ratio_wad=3 * WAD, gross_exposure_assets=10 * USDC, nav_assets=10 * USDC
)


@pytest.fixture(scope="module")
def risk_guard(project, admin, gov):
    return admin.deploy(project.RiskGuard, admin, gov, HARD_MAX_NOTIONAL, PARAMS.as_tuple())


def check(risk_guard, before: kg.BookState, after: kg.BookState, action: kg.ActionInfo):
    return risk_guard.checkAction(before.as_tuple(), after.as_tuple(), action.as_tuple())


def test_checkAction__with_everything_inside__passes(risk_guard):
    check(risk_guard, CALM, CALM, kg.ActionInfo(notional_assets=PARAMS.max_notional_per_action_assets))


def test_checkAction__with_notional_one_unit_over_cap__reverts_with_both(risk_guard):
    cap = PARAMS.max_notional_per_action_assets
    with ape.reverts(risk_guard.NotionalAboveCap, notionalAssets=cap + 1, capAssets=cap):
        check(risk_guard, CALM, CALM, kg.ActionInfo(notional_assets=cap + 1))


@pytest.mark.parametrize("is_buy", [True, False])
def test_checkAction__with_slippage_at_and_past_the_bound__passes_then_reverts(risk_guard, is_buy):
    oracle = 3000 * WAD
    edge = oracle * (10_000 + (50 if is_buy else -50)) // 10_000  # exactly 50 bps adverse
    check(
        risk_guard,
        CALM,
        CALM,
        kg.ActionInfo(trades=(kg.Trade(exec_price_wad=edge, oracle_price_wad=oracle, is_buy=is_buy),)),
    )
    worse = edge + 1 if is_buy else edge - 1
    with ape.reverts(risk_guard.SlippageAboveMax, execPriceWad=worse, oraclePriceWad=oracle, slippageBps=51):
        check(
            risk_guard,
            CALM,
            CALM,
            kg.ActionInfo(trades=(kg.Trade(exec_price_wad=worse, oracle_price_wad=oracle, is_buy=is_buy),)),
        )
    # any distance on the favourable side is fine
    better = oracle // 2 if is_buy else oracle * 2
    check(
        risk_guard,
        CALM,
        CALM,
        kg.ActionInfo(trades=(kg.Trade(exec_price_wad=better, oracle_price_wad=oracle, is_buy=is_buy),)),
    )


@pytest.mark.parametrize("place", [0, 1])
def test_checkAction__with_two_trades__checks_each_at_its_own_price(risk_guard, place):
    """A rebalance's spot swap and perp trade go in one call: either one past the bound reverts."""
    oracle = 3000 * WAD
    fine = kg.Trade(exec_price_wad=oracle, oracle_price_wad=oracle, is_buy=True)
    bad = kg.Trade(exec_price_wad=oracle * 9_900 // 10_000, oracle_price_wad=oracle, is_buy=False)  # 100 bps
    check(risk_guard, CALM, CALM, kg.ActionInfo(trades=(fine, fine)))
    pair = (bad, fine) if place == 0 else (fine, bad)
    with ape.reverts(risk_guard.SlippageAboveMax, execPriceWad=bad.exec_price_wad, slippageBps=100):
        check(risk_guard, CALM, CALM, kg.ActionInfo(trades=pair))


def test_checkAction__with_the_no_exemption_before_book__every_breached_bound_reverts(risk_guard):
    """NO_EXEMPTION (what the vault passes without allowImprovement) never counts a breach as improved."""
    cap = PARAMS.max_net_delta_wad
    worse = CALM.model_copy(update={"net_delta_wad": 3 * cap})
    better = CALM.model_copy(update={"net_delta_wad": 2 * cap})
    check(risk_guard, worse, better, kg.ActionInfo())  # measured before: an improvement passes
    with ape.reverts(risk_guard.NetDeltaAboveCap):
        check(risk_guard, kg.NO_EXEMPTION, better, kg.ActionInfo())
    low = CALM.model_copy(update={"margin_ratio_wad": PARAMS.min_margin_ratio_wad - 1})
    with ape.reverts(risk_guard.MarginRatioBelowMin):
        check(risk_guard, kg.NO_EXEMPTION, low, kg.ActionInfo())
    over = CALM.model_copy(update={"gross_exposure_assets": 40 * USDC})
    with ape.reverts(risk_guard.LeverageAboveMax):
        check(risk_guard, kg.NO_EXEMPTION, over, kg.ActionInfo())
    for after in (better, low, over):
        assert kg.check_action(PARAMS, kg.NO_EXEMPTION, after, kg.ActionInfo(), 0) is not None


def test_checkAction__with_price_but_no_oracle__reverts(risk_guard):
    with ape.reverts(risk_guard.MissingOraclePrice):
        check(risk_guard, CALM, CALM, kg.ActionInfo(trades=(kg.Trade(exec_price_wad=3000 * WAD),)))


def test_checkAction__with_action_too_soon__reverts_with_elapsed(risk_guard, chain):
    now = chain.blocks.head.timestamp
    check(risk_guard, CALM, CALM, kg.ActionInfo(last_action_at=now - 60 - 5))
    with ape.reverts(risk_guard.ActionTooSoon, minIntervalSec=60):
        check(risk_guard, CALM, CALM, kg.ActionInfo(last_action_at=now - 30))


@pytest.mark.parametrize("sign", [1, -1])
def test_checkAction__with_net_delta_at_and_over_cap__passes_then_reverts(risk_guard, sign):
    cap = PARAMS.max_net_delta_wad
    check(risk_guard, CALM, CALM.model_copy(update={"net_delta_wad": sign * cap}), kg.ActionInfo())
    with ape.reverts(risk_guard.NetDeltaAboveCap, netDeltaWad=sign * (cap + 1), capWad=cap):
        check(risk_guard, CALM, CALM.model_copy(update={"net_delta_wad": sign * (cap + 1)}), kg.ActionInfo())


def test_checkAction__with_breached_delta_reduced__passes_but_not_when_unchanged(risk_guard):
    cap = PARAMS.max_net_delta_wad
    before = CALM.model_copy(update={"net_delta_wad": 3 * cap})
    check(risk_guard, before, CALM.model_copy(update={"net_delta_wad": 2 * cap}), kg.ActionInfo())
    with ape.reverts(risk_guard.NetDeltaAboveCap):
        check(risk_guard, before, CALM.model_copy(update={"net_delta_wad": -3 * cap}), kg.ActionInfo())


def test_checkAction__with_margin_ratio_below_floor__reverts_unless_raised(risk_guard):
    floor = PARAMS.min_margin_ratio_wad
    check(risk_guard, CALM, CALM.model_copy(update={"margin_ratio_wad": floor}), kg.ActionInfo())
    low = CALM.model_copy(update={"margin_ratio_wad": floor - 1})
    with ape.reverts(risk_guard.MarginRatioBelowMin, marginRatioWad=floor - 1, minWad=floor):
        check(risk_guard, CALM, low, kg.ActionInfo())
    lower = CALM.model_copy(update={"margin_ratio_wad": floor // 2})
    check(risk_guard, lower, low, kg.ActionInfo())  # a top-up that does not reach the floor yet


def test_checkAction__with_leverage_over_cap__reverts_with_rounded_up_leverage(risk_guard):
    nav = 3 * USDC
    at_cap = kg.BookState(net_delta_wad=0, gross_exposure_assets=9 * USDC, nav_assets=nav)
    check(risk_guard, CALM, at_cap, kg.ActionInfo())
    over = at_cap.model_copy(update={"gross_exposure_assets": 9 * USDC + 1})
    lev = kg.leverage_wad(over)
    assert lev == -(-(9 * USDC + 1) * WAD // nav)
    with ape.reverts(risk_guard.LeverageAboveMax, leverageWad=lev, maxWad=PARAMS.max_leverage_wad):
        check(risk_guard, CALM, over, kg.ActionInfo())


def test_trigger__with_each_reason__reports_it_in_priority_order(risk_guard):
    def on_chain(state: kg.BookState) -> tuple[bool, int]:
        needed, reason = risk_guard.trigger(state.as_tuple())
        return needed, int(reason)

    assert on_chain(CALM) == (False, kg.Reason.NONE)
    delta = CALM.model_copy(update={"net_delta_wad": PARAMS.delta_trigger_wad + 1})
    assert on_chain(delta) == (True, kg.Reason.DELTA_OUT_OF_BAND)
    margin = delta.model_copy(update={"margin_ratio_wad": PARAMS.margin_trigger_wad - 1})
    assert on_chain(margin) == (True, kg.Reason.MARGIN_LOW)
    lev = CALM.model_copy(update={"gross_exposure_assets": 31 * USDC})
    assert on_chain(lev) == (True, kg.Reason.LEVERAGE_HIGH)
    for state in (CALM, delta, margin, lev):
        assert kg.trigger(PARAMS, state) == on_chain(state)[1]


@pytest.mark.parametrize(
    ("field", "value", "name"),
    [
        ("max_net_delta_wad", kg.HARD_MAX_NET_DELTA_WAD + 1, "maxNetDeltaWad"),
        ("min_margin_ratio_wad", kg.HARD_MIN_MARGIN_RATIO_WAD - 1, "minMarginRatioWad"),
        ("max_leverage_wad", kg.HARD_MAX_LEVERAGE_WAD + 1, "maxLeverageWad"),
        ("max_leverage_wad", 0, "maxLeverageWad"),
        ("max_slippage_bps", kg.HARD_MAX_SLIPPAGE_BPS + 1, "maxSlippageBps"),
        ("min_action_interval_sec", kg.HARD_MAX_INTERVAL_SEC + 1, "minActionIntervalSec"),
        ("max_notional_per_action_assets", HARD_MAX_NOTIONAL + 1, "maxNotionalPerActionAssets"),
        ("delta_trigger_wad", PARAMS.max_net_delta_wad + 1, "deltaTriggerWad"),
        ("margin_trigger_wad", PARAMS.min_margin_ratio_wad - 1, "marginTriggerWad"),
    ],
)
def test_setParams__past_a_hard_limit__reverts_naming_the_param(risk_guard, gov, field, value, name):
    bad = PARAMS.model_copy(update={field: value})
    violation = kg.params_violation(bad, HARD_MAX_NOTIONAL)
    assert violation is not None and violation.error == f"ParamOutOfBounds:{name}"
    with ape.reverts(risk_guard.ParamOutOfBounds, param=name, value=value):
        risk_guard.setParams(bad.as_tuple(), sender=gov)


def test_setParams__by_governance__emits_and_applies(risk_guard, gov):
    looser = PARAMS.model_copy(update={"max_slippage_bps": kg.HARD_MAX_SLIPPAGE_BPS})
    tx = risk_guard.setParams(looser.as_tuple(), sender=gov)
    assert len(tx.events.filter(risk_guard.ParamsSet)) == 1
    assert tuple(risk_guard.params()) == looser.as_tuple()
    risk_guard.setParams(PARAMS.as_tuple(), sender=gov)


def test_setParams__by_anyone_else__reverts_unauthorized(risk_guard, keeper, guardian, stranger):
    for caller in (keeper, guardian, stranger):
        with ape.reverts(risk_guard.AccessControlUnauthorizedAccount, account=caller):
            risk_guard.setParams(PARAMS.as_tuple(), sender=caller)


# ------------------------------------------------------------------ the Python mirror agrees

wads = st.integers(min_value=-20 * WAD, max_value=20 * WAD)
ratios = st.one_of(st.integers(min_value=0, max_value=5 * WAD), st.just(kg.UINT256_MAX))
assets = st.integers(min_value=0, max_value=100 * USDC)
states = st.builds(kg.BookState, net_delta_wad=wads, margin_ratio_wad=ratios, gross_exposure_assets=assets,
                   nav_assets=assets)  # fmt: skip
trades = st.builds(
    kg.Trade,
    exec_price_wad=st.one_of(st.just(0), st.integers(min_value=2900 * WAD, max_value=3100 * WAD)),
    oracle_price_wad=st.one_of(st.just(0), st.integers(min_value=2950 * WAD, max_value=3050 * WAD)),
    is_buy=st.booleans(),
)
actions = st.builds(
    kg.ActionInfo,
    notional_assets=st.integers(min_value=0, max_value=2 * PARAMS.max_notional_per_action_assets),
    trades=st.lists(trades, max_size=2).map(tuple),
    # seconds ago; clear of the 60 s bound by a few seconds (eth_call's clock may be a block ahead)
    last_action_at=st.one_of(
        st.just(0), st.integers(min_value=1, max_value=120).filter(lambda s: abs(s - 60) > 3)
    ),
)


@settings(chain_settings, max_examples=80)
@given(before=states, after=states, action=actions)
def test_checkAction__with_random_inputs__matches_the_python_mirror(risk_guard, chain, before, after, action):
    now = chain.blocks.head.timestamp
    ago = action.last_action_at
    action = action.model_copy(update={"last_action_at": 0 if ago == 0 else now - ago})
    expected = kg.check_action(PARAMS, before, after, action, now)
    if expected is None:
        check(risk_guard, before, after, action)
    else:
        with ape.reverts(getattr(risk_guard, expected.error)):
            check(risk_guard, before, after, action)
