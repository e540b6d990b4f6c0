"""The demo (`make demo`'s engine) in a short configuration: two simulated days, hourly, the stress
episode (−25% over a day, IV × 1.8, negative funding) on the second day, the real keeper service acting.

The report's numbers are checked against the chain, the journal against the steps, the HTML against its
plots, and the PnL attribution against the NAV change: the lines, each measured on its own from events
or state, leave a residual of at most `RESIDUAL_TOLERANCE_USD` (the contracts' rounding; measured
~1e-6 USD).
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from keeper.chain.deploy import load_deployment
from keeper.demo import DemoConfig, run_demo
from keeper.journal import Journal

DEMO_DAYS = 2
RESIDUAL_TOLERANCE_USD = 1.0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo_result(deterministic_clock, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-out")
    cfg = DemoConfig(days=DEMO_DAYS, seed=7, shock_day=1.0)
    return run_demo(cfg, out, block_interval=False)


@pytest.fixture(scope="module")
def demo_summary(demo_result):
    return json.loads(demo_result.files["summary"].read_text())


def test_demo__summary__matches_the_contracts_at_the_final_block(demo_result, demo_summary, project, chain):
    d = demo_result.deployment
    block = demo_summary["chain"]["final_block"]
    vault = project.KeelVault.at(d.vault)
    fund = project.InsuranceFund.at(d.insurance_fund)
    v = demo_summary["vault"]
    assert vault.totalAssets(block_id=block) == v["nav_assets"]
    assert vault.sharePriceWad(block_id=block) == v["share_price_wad"]
    assert vault.totalSupply(block_id=block) == v["total_supply"]
    assert fund.reserve(block_id=block) == v["insurance_fund_assets"]
    assert v["nav_usd"] == pytest.approx(v["nav_assets"] / 1e6)
    assert v["insurance_fund_usd"] == pytest.approx(v["insurance_fund_assets"] / 1e6)
    # nothing moved after the summary was taken: the latest state says the same
    assert chain.blocks.head.number == block
    assert vault.totalAssets() == v["nav_assets"]
    assert fund.reserve() == v["insurance_fund_assets"]
    # the deployment JSON in out/ is the deployment that ran
    assert load_deployment(demo_result.files["deployment"]).vault == d.vault


def test_demo__journal__one_verified_record_per_step(demo_result, demo_summary):
    n_steps = DEMO_DAYS * 24
    assert len(demo_result.steps) == n_steps
    with Journal(demo_result.files["journal"], readonly=True) as journal:
        assert journal.count() == n_steps
        assert journal.verify() == []
        hashes = journal.tx_hashes()
        assert len(hashes) == len(set(hashes))
        assert journal.actions_by_kind(status="confirmed") == demo_summary["keeper"]["actions_confirmed"]
    assert demo_summary["keeper"]["cycles"] == n_steps
    assert demo_summary["keeper"]["journal_verified"] is True


def test_demo__keeper__acted_on_chain_through_the_stress_day(demo_result, demo_summary, project, chain):
    d = demo_result.deployment
    vault = project.KeelVault.at(d.vault)
    confirmed = demo_summary["keeper"]["actions_confirmed"]
    assert confirmed.get("rebalance", 0) >= 5, confirmed
    assert confirmed.get("trade_option", 0) >= 1, confirmed
    assert confirmed.get("report", 0) >= 1, confirmed
    assert confirmed.get("process_redemptions", 0) >= 1, confirmed
    head = chain.blocks.head.number
    assert len(list(vault.Rebalanced.range(d.block, head + 1))) == confirmed["rebalance"]
    nonced = ("rebalance", "trade_option", "settle_option", "report", "cover_loss")
    assert vault.actionNonce() == sum(confirmed.get(k, 0) for k in nonced)
    # the stress episode is in the path: about −25% over the second day, IV up, funding negative
    m = demo_summary["market"]
    assert m["shock"]["day"] == 1.0 and m["shock"]["spot_move"] == -0.25
    path = demo_result.path
    assert path.spot[48] / path.spot[24] < 0.85
    assert m["funding_min_8h"] < 0
    # the keeper kept the book within the guard's net-delta cap at every step
    assert demo_summary["risk"]["max_abs_net_delta_eth"] <= demo_summary["risk"]["guard_max_net_delta_eth"]
    assert demo_summary["risk"]["min_margin_ratio"] >= demo_summary["risk"]["guard_min_margin_ratio"]


def test_demo__depositors__deposit_withdraw_queue_and_claim(demo_result, demo_summary, project):
    kinds = {e["kind"] for e in demo_summary["depositor_events"]}
    assert {"deposit", "withdraw", "request_redeem", "claim_redeem"} <= kinds
    usdc = project.MockUSDC.at(demo_result.deployment.usdc)
    for p in demo_summary["depositors"]:
        # what each depositor got back is in their wallet (they were minted exactly what they deposited)
        assert usdc.balanceOf(p["address"]) == round((p["withdrawn_usd"] + p["claimed_usd"]) * 1e6)


def test_demo__attribution__lines_reconcile_to_the_nav_change(demo_result, demo_summary):
    a = demo_summary["attribution"]
    bridge = [x for x in a["lines"] if x["in_bridge"]]
    assert sum(x["usd"] for x in bridge) == pytest.approx(a["nav_change_usd"], abs=1e-6)
    residual = next(x for x in bridge if x["key"] == "residual")["usd"]
    assert abs(residual) <= RESIDUAL_TOLERANCE_USD, a
    for leg, row in a["legs"].items():
        assert abs(row["residual"]) <= RESIDUAL_TOLERANCE_USD, (leg, row)
    by_key = {x["key"]: x["usd"] for x in a["lines"]}
    deposits = sum(e["assets"] for e in demo_summary["depositor_events"] if e["kind"] == "deposit") / 1e6
    assert by_key["deposits"] == pytest.approx(deposits, abs=1e-6)
    # every line a measurement: the hedged book's two price lines offset each other, costs are costs
    assert by_key["spot_price"] < 0 < by_key["perp_price"]  # ETH fell
    assert abs(by_key["spot_price"] + by_key["perp_price"]) < 0.1 * abs(by_key["spot_price"])
    assert by_key["swap_cost"] < 0 and by_key["perp_fees"] < 0
    assert by_key["option_premium"] > 0
    assert a["nav_end_usd"] == pytest.approx(demo_summary["vault"]["nav_usd"])


def test_demo__report__html_embeds_every_plot(demo_result):
    html = demo_result.files["report"].read_text()
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert len(images) == 8
    for b64 in images:
        assert base64.b64decode(b64).startswith(PNG_MAGIC)
    for heading in (
        "Share price",
        "Positions",
        "Net delta",
        "Gamma and vega",
        "Margin ratio",
        "Funding earned",
        "Insurance fund",
        "PnL attribution",
    ):
        assert f"<h2>{heading}" in html
    assert demo_result.files["steps"].read_text().count("\n") == DEMO_DAYS * 24 + 1
