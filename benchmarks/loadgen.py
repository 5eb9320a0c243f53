"""A small HTTP/1.1 keep-alive load generator, used when ``wrk`` is not installed.

It stops by itself after ``--duration`` seconds and only talks to 127.0.0.1. It is written in
Python, so it saturates sooner than wrk: its figures compare variants with each other, not with
wrk's. Prints one JSON object: requests, errors, rps, p50_ms, p99_ms.

    python -m benchmarks.loadgen --port 8000 --path / --connections 32 --procs 2 --duration 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
import uuid
from typing import Any


async def _connection(
    port: int, path: str, unique: str | None, deadline: float, lat: list[float], errs: list[int]
) -> None:
    n = 0
    reader = writer = None
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            target = path
            if unique is not None:
                n += 1
                target = f"{path}?n={unique}-{n}"
            t0 = time.perf_counter()
            head_lines = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: loadgen"
            writer.write(head_lines.encode() + b"\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            close = False
            status_ok = head[9:10] in (b"2", b"3")
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                lname = name.strip().lower()
                if lname == b"content-length":
                    length = int(value)
                elif lname == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length:
                await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if not status_ok:
                errs[0] += 1
            if close:
                writer.close()
                reader = writer = None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            errs[0] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.001)
    if writer is not None:
        writer.close()


def _worker(args: tuple[int, str, bool, int, float, Any]) -> None:
    port, path, unique, conns, duration, queue = args
    lat: list[float] = []
    errs = [0]

    async def main() -> None:
        deadline = time.perf_counter() + duration
        token = uuid.uuid4().hex[:8] if unique else None
        await asyncio.gather(
            *(
                _connection(port, path, f"{token}-{i}" if token else None, deadline, lat, errs)
                for i in range(conns)
            )
        )

    asyncio.run(main())
    queue.put((lat, errs[0]))


def run(
    port: int, path: str, *, unique: bool, connections: int, procs: int, duration: float
) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    per = max(1, connections // procs)
    workers = [
        ctx.Process(target=_worker, args=((port, path, unique, per, duration, queue),))
        for _ in range(procs)
    ]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    lat: list[float] = []
    errors = 0
    for _ in workers:
        part, e = queue.get(timeout=duration + 30)
        lat.extend(part)
        errors += e
    for w in workers:
        w.join(10)
    elapsed = max(duration, time.perf_counter() - t0 - 0.3)
    lat.sort()

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    return {
        "requests": len(lat),
        "errors": errors,
        "rps": len(lat) / duration if lat else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "elapsed": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--unique", action="store_true", help="a new ?n= on every request")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--duration", type=float, default=4.0)
    a = parser.parse_args()
    print(
        json.dumps(
            run(
                a.port,
                a.path,
                unique=a.unique,
                connections=a.connections,
                procs=a.procs,
                duration=min(a.duration, 60.0),
            )
        )
    )


if __name__ == "__main__":
    main()
