"""Executors: how the coordinator runs the bodies of node runs that do not run inline.

`base.Executor` is the seam; `thread.ThreadExecutor` (a thread pool in the engine's own
process) is the default. `celery_executor.CeleryExecutor` sends remote-capable node bodies
to Celery workers; it imports Celery and Django settings, so nothing in `engine/core`
imports it: `engine.runtime` builds it and hands it to the engine.
"""
