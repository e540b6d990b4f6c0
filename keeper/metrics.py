"""Prometheus metrics of the keeper (prometheus-client): the book's risk, the vault, the oracles, the
sender and what each cycle did. Every name starts with ``keel_``; units are in the names.

    metrics = Metrics()                      # its own registry (process/platform/gc collectors included)
    port = metrics.serve(9464)               # http://127.0.0.1:9464/metrics
    metrics.observe_cycle(snapshot, risk, decision, outcomes, status="ok")   # or observe_record(rec)
    metrics.observe_sender(pending_age_sec, nonce_gap)
    metrics.observe_error("rpc")
    metrics.set_circuit_breaker(True)

Gauges keep the last observed value; a figure the cycle could not produce (no snapshot, no risk) is
left as it was — alert on ``keel_last_cycle_timestamp_seconds`` and ``keel_cycles_total{status="error"}``
for staleness. Without a perp position the margin ratio and the liquidation distance are ``+Inf`` (no
position cannot be liquidated). ``keel_actions_total{kind,status}`` counts the sender's outcomes (the
sender's status strings: confirmed, reverted, simulation_failed, ...); ``keel_actions_decided_total{kind}``
counts what the policy decided; ``keel_errors_total{kind}`` counts errors the service reports
(``observe_error``), not failed actions.

Example alerts: ``keel_oracle_ok == 0`` for 5m; ``keel_perp_margin_ratio < 2``; ``abs(keel_net_delta_eth)
> 5``; ``time() - keel_last_cycle_timestamp_seconds > 120``; ``keel_nonce_gap > 0`` for 10m;
``increase(keel_actions_total{status!="confirmed"}[1h]) > 0``; ``keel_circuit_breaker_open == 1``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
    start_http_server,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from keeper.journal import ActionOutcome, CycleRecord
from keeper.policy import Decision
from keeper.risk import RiskReport
from keeper.snapshot import OracleReading, Snapshot

__all__ = ["CYCLE_STATUSES", "FEEDS", "Metrics", "cycle_status"]

FEEDS = ("eth_usd", "eth_iv", "funding")
CYCLE_STATUSES = ("ok", "no_action", "halted", "error")


def cycle_status(snapshot: Snapshot | None, risk: RiskReport | None, decision: Decision | None) -> str:
    """The status a cycle gets when the caller does not say: `error` without a snapshot, risk or
    decision; `halted` when the oracles stop trading and nothing was decided; `no_action`; `ok`."""
    if snapshot is None or risk is None or decision is None:
        return "error"
    if not decision.actions:
        return "no_action" if snapshot.oracles_ok else "halted"
    return "ok"


class Metrics:
    """The keeper's Prometheus metrics, in `registry` (a fresh registry with the process, platform and
    GC collectors when None, so two instances never clash)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        if registry is None:
            registry = CollectorRegistry(auto_describe=True)
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
        self.registry = registry
        self._server = None
        self._thread = None
        self._verdicts: dict[str, str] = {}
        r = registry

        def g(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(f"keel_{name}", doc, labels, registry=r)

        def c(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(f"keel_{name}", doc, labels, registry=r)

        # risk
        self.net_delta_eth = g("net_delta_eth", "Net delta of the book (spot + perp + options), ETH")
        self.gamma_eth_per_usd = g("gamma_eth_per_usd", "Gamma of the book: ETH of delta per USD of spot")
        self.vega_usd_per_vol_point = g("vega_usd_per_vol_point", "Vega of the book, USD per vol point")
        self.theta_usd_per_day = g("theta_usd_per_day", "Theta of the book, USD per calendar day")
        self.perp_margin_ratio = g("perp_margin_ratio", "Perp equity / maintenance requirement (+Inf flat)")
        self.liquidation_distance_pct = g(
            "liquidation_distance_pct", "Distance of the mark to the perp liquidation price, percent"
        )
        self.scenario_worst_loss_usd = g("scenario_worst_loss_usd", "Worst scenario-grid loss, USD")
        self.collateral_ratio = g("collateral_ratio", "Equity / worst scenario loss")
        # vault
        self.nav_usd = g("nav_usd", "Vault totalAssets, USD")
        self.share_price = g("share_price", "Vault share price, assets per share")
        self.insurance_fund_usd = g("insurance_fund_usd", "Insurance fund reserve, USD")
        self.queued_redemptions_usd = g("queued_redemptions_usd", "Assets of queued redemption requests, USD")
        self.action_nonce = g("action_nonce", "The vault's next expected action nonce")
        # oracles and funding
        self.oracle_age_seconds = g(
            "oracle_age_seconds", "Age of the feed's latest round, seconds", ("feed",)
        )
        self.oracle_ok = g(
            "oracle_ok",
            "1 when the feed's latest round passes OracleLib's checks, else 0",
            ("feed", "verdict"),
        )
        self.funding_rate_8h = g("funding_rate_8h", "Perp funding rate per 8 hours (0.0001 = 0.01%)")
        # sender
        self.pending_tx_age_seconds = g("pending_tx_age_seconds", "Age of the oldest pending tx, seconds")
        self.nonce_gap = g("nonce_gap", "Pending account nonce minus confirmed nonce")
        # cycles, actions, errors
        self.actions_total = c("actions", "Actions sent, by kind and sender outcome", ("kind", "status"))
        self.actions_decided_total = c("actions_decided", "Actions the policy decided, by kind", ("kind",))
        self.errors_total = c("errors", "Errors reported by the service, by kind", ("kind",))
        self.cycles_total = c("cycles", "Keeper cycles, by status", ("status",))
        for status in CYCLE_STATUSES:  # present from the start, so rate() and absent() behave
            self.cycles_total.labels(status)
        self.circuit_breaker_open = g("circuit_breaker_open", "1 while the keeper's circuit breaker is open")
        self.last_block = g("last_block", "Block of the latest snapshot")
        self.last_cycle_timestamp_seconds = g(
            "last_cycle_timestamp_seconds", "Wall clock at the end of the latest cycle, unix seconds"
        )

    # ---- observations

    def _oracle(self, reading: OracleReading) -> None:
        feed = reading.name
        verdict = reading.verdict.name
        old = self._verdicts.get(feed)
        if old is not None and old != verdict:
            self.oracle_ok.remove(feed, old)
        self._verdicts[feed] = verdict
        self.oracle_ok.labels(feed, verdict).set(1 if reading.ok else 0)
        self.oracle_age_seconds.labels(feed).set(reading.age_sec)

    def observe_cycle(
        self,
        snapshot: Snapshot | None,
        risk: RiskReport | None,
        decision: Decision | None,
        outcomes: Iterable[ActionOutcome] = (),
        *,
        status: str | None = None,
    ) -> None:
        """Record one cycle: the snapshot's vault and oracle figures, the risk figures, the decided
        actions and the sender's outcomes; `status` defaults to `cycle_status(...)`."""
        if snapshot is not None:
            s = snapshot
            self.nav_usd.set(s.usd(s.vault.total_assets))
            self.share_price.set(s.vault.share_price)
            self.insurance_fund_usd.set(s.usd(s.insurance.reserve_assets))
            self.queued_redemptions_usd.set(s.usd(s.queued_assets))
            self.action_nonce.set(s.action_nonce)
            for reading in (s.spot_oracle, s.iv_oracle, s.funding_oracle):
                self._oracle(reading)
            if s.funding_oracle.ok:
                self.funding_rate_8h.set(s.funding_oracle.value)
            elif s.funding_history:
                self.funding_rate_8h.set(s.funding_history[-1].rate_wad / 10**18)
            self.last_block.set(s.block)
        if risk is not None:
            gr = risk.greeks
            self.net_delta_eth.set(gr.net_delta_eth)
            self.gamma_eth_per_usd.set(gr.gamma_eth_per_usd)
            self.vega_usd_per_vol_point.set(gr.vega_usd_per_vol_point)
            self.theta_usd_per_day.set(gr.theta_usd_per_day)
            self.perp_margin_ratio.set(_or_inf(risk.perp_margin_ratio))
            self.liquidation_distance_pct.set(_or_inf(risk.distance_to_liquidation_pct))
            self.scenario_worst_loss_usd.set(risk.scenario_worst_loss_usd)
            self.collateral_ratio.set(risk.collateral_ratio)
        if decision is not None:
            for a in decision.actions:
                self.actions_decided_total.labels(a.kind).inc()
        for o in outcomes:
            self.actions_total.labels(o.action.kind, o.status).inc()
        self.cycles_total.labels(status or cycle_status(snapshot, risk, decision)).inc()
        self.last_cycle_timestamp_seconds.set_to_current_time()

    def observe_record(self, record: CycleRecord) -> None:
        """`observe_cycle` of a journal record (its own status)."""
        self.observe_cycle(
            record.snapshot, record.risk, record.decision, record.outcomes, status=record.status
        )

    def observe_error(self, kind: str) -> None:
        self.errors_total.labels(kind).inc()

    def observe_sender(self, pending_age: float | None, nonce_gap: int) -> None:
        """The sender's state: age of the oldest pending tx (None or 0 = nothing pending), nonce gap."""
        self.pending_tx_age_seconds.set(pending_age or 0.0)
        self.nonce_gap.set(nonce_gap)

    def set_circuit_breaker(self, open_: bool) -> None:
        self.circuit_breaker_open.set(1 if open_ else 0)

    # ---- exposition

    def render(self) -> bytes:
        """The registry in the Prometheus text format (what the endpoint serves)."""
        return generate_latest(self.registry)

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        """Serve `/metrics` on `addr:port` in a daemon thread; port 0 picks a free port. Returns the bound
        port."""
        if self._server is not None:
            raise RuntimeError(f"metrics already served on port {self._server.server_port}")
        self._server, self._thread = start_http_server(port, addr, registry=self.registry)
        return int(self._server.server_port)

    def close(self) -> None:
        """Stop the HTTP server (if serving)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = self._thread = None


def _or_inf(x: float | None) -> float:
    return math.inf if x is None else x
