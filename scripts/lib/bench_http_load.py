"""A load generator for one URL: `python bench_http_load.py URL CLIENTS SECONDS`.

CLIENTS connections each send GET after GET for SECONDS (after a short warm-up); prints one
JSON object: req_per_s (answers with status 200 a second), ms_p50, ms_p95, errors. It runs
in a process of its own so the clients' work is not the server's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp
from bench_stats import percentile

WARMUP_S = 0.5


async def main(url: str, clients: int, seconds: float) -> dict[str, float]:
    """Run the load; the figures."""
    latencies: list[float] = []
    errors = 0
    ok = 0
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        measure_from = start + WARMUP_S
        stop_at = measure_from + seconds

        async def client() -> None:
            nonlocal errors, ok
            while (now := time.perf_counter()) < stop_at:
                try:
                    async with session.get(url) as response:
                        await response.read()
                        good = response.status == 200
                except aiohttp.ClientError:
                    good = False
                done = time.perf_counter()
                if now >= measure_from:
                    if good:
                        ok += 1
                        latencies.append((done - now) * 1000)
                    else:
                        errors += 1

        await asyncio.gather(*(client() for _ in range(clients)))
    return {
        "req_per_s": round(ok / seconds, 1),
        "ms_p50": round(percentile(latencies, 50), 2),
        "ms_p95": round(percentile(latencies, 95), 2),
        "errors": errors,
    }


if __name__ == "__main__":
    figures = asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
    print(json.dumps(figures), flush=True)
