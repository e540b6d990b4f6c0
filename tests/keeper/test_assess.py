"""keeper/assess.py: `assess` builds the options straight into an `OptionBook` (no model per option);
it must give exactly the risk report — and so the decision — of the model path (`portfolio`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from keeper.assess import assess, option_book, option_positions, portfolio
from keeper.policy import PolicyConfig, decide_with_notes
from keeper.positions import OptionBook, Portfolio
from keeper.risk import risk_report
from tests.keeper.snapshot_factory import T0, make_series, make_snapshot

DAY = 86_400


def mixed_positions(n: int) -> list:
    """Short and long capped calls and puts, strikes around spot, expiries 1-60 days, with settled,
    zero-size and expired-but-unsettled positions mixed in."""
    out = []
    for i in range(n):
        call = i % 2 == 0
        strike = 2_100.0 + 25.0 * ((i * 37) % 72)
        size = 0.0 if i % 11 == 10 else (0.75 if i % 5 == 4 else -1.0 - (i % 3) * 0.5)
        if i % 13 == 12:  # settled
            out.append(make_series(1_000 + i, call=call, strike=strike, days=-2, size_eth=size or -1.0,
                                   settled=True, settlement_price=3_100.0))  # fmt: skip
        elif i % 17 == 16:  # expired, waiting for its settlement round (priced at intrinsic)
            out.append(make_series(1_000 + i, call=call, strike=strike, expiry=T0 - 600, size_eth=size))
        else:
            out.append(
                make_series(1_000 + i, call=call, strike=strike, days=1 + (i * 31) % 60, size_eth=size)
            )
    return out


SNAPSHOTS = {
    "default (one short capped call)": lambda: make_snapshot(),
    "no options": lambda: make_snapshot(positions=()),
    "one put": lambda: make_snapshot(positions=(make_series(7, call=False, strike=2_700.0, size_eth=-3.0),)),
    "300 mixed positions": lambda: make_snapshot(positions=mixed_positions(300)),
    "2,000 mixed positions": lambda: make_snapshot(positions=mixed_positions(2_000)),
    "stale spot: marked at the last good price": lambda: make_snapshot(
        positions=mixed_positions(40), spot_age_sec=7_200, spot_last_good=2_950.0
    ),
    "IV feed at 0: the last good vol": lambda: make_snapshot(
        positions=mixed_positions(40), iv_oracle={"value_wad": 0}
    ),
    "no perp": lambda: make_snapshot(positions=mixed_positions(40), perp_eth=0.0, perp_margin_usd=0.0),
}


@pytest.fixture(params=sorted(SNAPSHOTS), ids=lambda k: k)
def assess_snap(request):
    return SNAPSHOTS[request.param]()


def test_option_book__equals_the_models_book__array_for_array(assess_snap):
    fast = option_book(assess_snap)
    models = OptionBook.from_positions(option_positions(assess_snap))

    assert len(fast) == len(models)
    for field in dataclasses.fields(OptionBook):
        a, b = getattr(fast, field.name), getattr(models, field.name)
        assert a.dtype == b.dtype, field.name
        assert a.flags.writeable is b.flags.writeable is False, field.name
        assert np.array_equal(a, b), field.name


def test_assess__equals_the_risk_report_of_the_models_portfolio__float_for_float(assess_snap):
    book, market = portfolio(assess_snap)

    assert type(book) is Portfolio  # the public function still returns the models
    assert len(book.options) == len(option_book(assess_snap))
    assert assess(assess_snap) == risk_report(book, market)


def test_decide__on_the_fast_report__takes_the_models_decision(assess_snap):
    config = PolicyConfig()
    via_models = decide_with_notes(assess_snap, risk_report(*portfolio(assess_snap)), config)

    assert decide_with_notes(assess_snap, assess(assess_snap), config) == via_models


def test_assess__with_a_zero_strike__refuses_the_snapshot_as_the_models_do():
    snap = make_snapshot(positions=(make_series(9, strike=3_300.0, size_eth=-1.0),), options={"positions": [
        make_series(9, strike=3_300.0, size_eth=-1.0).model_dump() | {"strike_wad": 0}]})  # fmt: skip

    with pytest.raises(ValueError, match="strike_usd"):
        risk_report(*portfolio(snap))
    with pytest.raises(ValueError, match="option series 9: strike_usd must be > 0"):
        assess(snap)
