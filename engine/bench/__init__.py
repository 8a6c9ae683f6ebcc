"""The benchmarks of SPEC §9 (`manage.py bench`, a thin CLI over this package).

- `workloads`: the workflows measured (chain, fan-out, loop, lattice, redrive, …), the
  bare-executor floor and the peers (Dask, Prefect), and the metric shape;
- `harness`: the scratch SQLite database, the process's engine, daphne on a free port;
- `scenarios`: what this process's engine runs (chain, fanout, loop, lattice, baseline,
  redrive, peers);
- `servers`: what goes through a server (runs, stream, prune, scaleout);
- `stream`: the websocket clients of the `stream` scenario;
- `scaleout`: the Celery executor on a local cluster (`engine.cluster`).
"""
