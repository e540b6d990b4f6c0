"""Replay throughput: journaled cycles (blocks) re-read, re-assessed, re-decided and checked per second.

Run with `make bench`, or:

    .venv/bin/python bench/replay.py --network ethereum:local:foundry [--days 1]

A short demo (`keeper.demo.run_demo`, hourly steps, the real keeper service journaling) runs on ape's
embedded anvil; then `keeper.replay.replay_journal` replays its journal against a second anvil forked
from the first (loopback; `anvil_reset` to each cycle's block, every snapshot read through the fork), and
`keeper.replay.reconstruct` does the same range without the journal. Printed: replay blocks per second
(one block per journaled cycle; the fork's start-up excluded and included), and the reconstruction's
scanned blocks per second. Timings depend on the machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

DEFAULT_NETWORK = "ethereum:local:foundry"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--network", default=DEFAULT_NETWORK, help=f"ape network (default: {DEFAULT_NETWORK})"
    )
    parser.add_argument("--days", type=int, default=1, help="demo days (24 hourly cycles a day)")
    args = parser.parse_args(argv)

    from ape.logging import LogLevel, logger

    from keeper.demo import DemoConfig, run_demo
    from keeper.demo.node import connect
    from keeper.journal import Journal
    from keeper.replay import ForkNode, reconstruct, replay_journal

    logger.set_level(LogLevel.WARNING)
    with tempfile.TemporaryDirectory(prefix="keel-replay-bench-") as tmp, connect(args.network) as provider:
        out = Path(tmp)
        cfg = DemoConfig(days=args.days, seed=7)
        t = time.perf_counter()
        result = run_demo(cfg, out)
        demo_sec = time.perf_counter() - t
        origin = provider.uri
        with Journal(result.files["journal"], readonly=True) as j:
            cycles = list(j.cycles())
        a, b = cycles[0].block, cycles[-1].block
        t = time.perf_counter()
        with ForkNode(origin, a) as node:
            start_sec = time.perf_counter() - t
            report = replay_journal(origin, result.files["journal"], policy=cfg.policy, node=node)
            t = time.perf_counter()
            rec = reconstruct(origin, result.deployment.vault, a, b, policy=cfg.policy, node=node)
            rec_sec = time.perf_counter() - t
    n = len(report.cycles)
    print()
    print(f"Replay of a {args.days}-day demo ({n} journaled cycles, blocks {a}..{b}; demo {demo_sec:.1f} s)")
    print(f"  verdict: {'no differences' if report.ok else f'{len(report.differences)} DIFFERENCES'}")
    print(f"  fork start-up (anvil --fork-url ... --hardfork cancun): {start_sec:.2f} s")
    print(
        f"  replay: {report.blocks_read} blocks in {report.elapsed_sec:.2f} s = "
        f"{report.blocks_read / report.elapsed_sec:.2f} replay blocks/s "
        f"({n / (report.elapsed_sec + start_sec):.2f} cycles/s with the fork's start-up)"
    )
    print(
        f"  reconstruction (no journal): {b - a + 1} blocks scanned, {len(rec.cycles)} keeper cycles "
        f"re-decided in {rec_sec:.2f} s = {(b - a + 1) / rec_sec:.1f} scanned blocks/s; "
        f"{'no differences' if rec.ok else f'{len(rec.differences)} differences'}"
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
