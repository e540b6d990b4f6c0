"""The demo's configuration and market path (pure: no chain), and the event decoder of its attribution."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from eth_abi import encode
from eth_utils import keccak

from keeper.chain.rpc import calldata
from keeper.demo.attribution import EventDecoder
from keeper.demo.config import DemoConfig, market_path
from keeper.demo.engine import max_drawdown
from keeper.demo.market import round_strike
from keeper.sim import SkippedRowsWarning, load_ohlcv_csv

SHARED_CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "ETH-USD.csv"


def test_market_path__default__is_30_hourly_days_with_the_stress_day_40_percent_in():
    cfg = DemoConfig()
    path = market_path(cfg)
    assert path.n_steps == 30 * 24
    assert path.source == "simulated"
    (shock,) = cfg.shocks(30)
    assert (shock.day, shock.spot_move, shock.iv_multiplier, shock.funding_8h) == (12.0, -0.25, 1.8, -0.0005)
    i = 12 * 24
    assert path.funding_8h[i + 1 : i + 72].max() == pytest.approx(-0.0005)
    assert path.iv[i + 24] > path.iv[i]
    # seeded: the same config, the same path
    assert np.array_equal(market_path(DemoConfig()).spot, path.spot)
    assert not np.array_equal(market_path(DemoConfig(seed=8)).spot, path.spot)


def test_market_path__short_run__places_the_shock_inside():
    for days in (1, 2, 3):
        cfg = DemoConfig(days=days)
        (shock,) = cfg.shocks(days)
        assert shock.day + shock.hours / 24 <= days
        assert market_path(cfg).n_steps == days * 24


def test_config__shock_that_ends_after_the_run__is_refused_naming_the_field():
    with pytest.raises(ValueError, match="shock_day"):
        DemoConfig(days=3, shock_day=2.5)


@pytest.mark.skipif(not SHARED_CSV.is_file(), reason="the shared sample data is not beside the checkout")
def test_market_path__csv__bridges_the_closes_hourly_without_a_shock_by_default():
    cfg = DemoConfig(days=10, prices_csv=SHARED_CSV, csv_start=date(2021, 5, 10))
    path = market_path(cfg)
    with pytest.warns(SkippedRowsWarning):  # the sample has a few null rows
        dates, closes = load_ohlcv_csv(SHARED_CSV)
    start = int(np.flatnonzero(dates == np.datetime64("2021-05-10"))[0])
    assert path.source == "history"
    assert path.n_steps == 10 * 24
    assert cfg.shocks(10) == ()
    # spot hits every daily close at midnight
    assert np.allclose(path.spot[::24], closes[start : start + 11])
    # the last `days` days by default
    tail = market_path(DemoConfig(days=5, prices_csv=SHARED_CSV))
    assert tail.spot[-1] == pytest.approx(closes[-1])


def test_round_strike__three_significant_digits():
    assert [round_strike(x) for x in (3163.4, 3150.0, 1.234, 12_345.0)] == [3160.0, 3150.0, 1.23, 12_300.0]


def test_max_drawdown():
    assert max_drawdown([1.0, 1.1, 0.99, 1.2, 1.08]) == pytest.approx(0.1)
    assert max_drawdown([1.0, 1.0, 1.01]) == 0.0


def test_event_decoder__indexed_and_data_fields():
    abi = [
        {
            "type": "event",
            "name": "Transfer",
            "anonymous": False,
            "inputs": [
                {"name": "from", "type": "address", "indexed": True},
                {"name": "to", "type": "address", "indexed": True},
                {"name": "value", "type": "uint256", "indexed": False},
            ],
        }
    ]
    token = "0x" + "11" * 20
    a, b = "0x" + "22" * 20, "0x" + "33" * 20
    dec = EventDecoder([(token, abi)])
    raw = {
        "address": token,
        "topics": [
            "0x" + keccak(text="Transfer(address,address,uint256)").hex(),
            "0x" + encode(["address"], [a]).hex(),
            "0x" + encode(["address"], [b]).hex(),
        ],
        "data": "0x" + encode(["uint256"], [12345]).hex(),
        "blockNumber": "0x10",
        "logIndex": "0x2",
    }
    log = dec.decode(raw)
    assert log is not None
    assert (log.name, log.args["from"], log.args["to"], log.args["value"], log.block) == (
        "Transfer",
        a,
        b,
        12345,
        16,
    )
    assert dec.decode(raw | {"address": "0x" + "44" * 20}) is None  # an unknown contract


def test_calldata__matches_the_abi_encoding():
    data = calldata("transfer(address,uint256)", "0x" + "22" * 20, 7)
    assert data[:4] == keccak(text="transfer(address,uint256)")[:4]
    assert data[4:] == encode(["address", "uint256"], ["0x" + "22" * 20, 7])
