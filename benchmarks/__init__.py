"""Benchmarks for edge_middleware: ``python -m benchmarks`` (``make bench``).

Cases: 1 in-process overhead, 2 cache, 3 real servers (uvicorn, gunicorn + wrk), 4 growth and
memory, 5 profile. See ``benchmarks/__main__.py``; the latest results are in
``benchmarks/results/latest.md``.
"""
