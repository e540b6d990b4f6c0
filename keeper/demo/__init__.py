"""The demo engine behind `make demo`: a simulated market drives a local chain while the real keeper
service manages the vault; the run ends with a summary, a PnL attribution and an HTML report.

    from keeper.demo import DemoConfig, run_demo
    result = run_demo(DemoConfig(days=3), Path("out"))   # on ape's connected local chain

Modules: `config` (DemoConfig, the market path), `rpc` (low-overhead JSON-RPC), `market` (feeds,
funding crank, arbitrageur, option venue operator), `depositors`, `attribution` (NAV bridge from events),
`engine` (run_demo), `report` (HTML with embedded plots).
"""

from keeper.demo.config import DemoConfig, market_path
from keeper.demo.engine import DemoResult, StepRecord, run_demo

__all__ = ["DemoConfig", "DemoResult", "StepRecord", "market_path", "run_demo"]
