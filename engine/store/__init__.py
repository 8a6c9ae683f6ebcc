"""The engine's storage on the Django database (a leaf: it imports models, the core's
`Persistence` types and the live stream's announcer, never services).

- `persistence`: `DjangoPersistence`, what `engine.runtime` hands the engine;
- `writes`: a tick's batch in one transaction (group commit), with its dead letters;
- `claims`: claims of queued runs, take-over of orphans, heartbeats, the queue's timeout;
- `reads`: executions, node runs and pending signals for the coordinator;
- `queue`: the run queue's settings and which queued runs may start;
- `dead_letters`: dead letters written with the state change that made them;
- `sql`: value adaptation, `IN (…)` chunks, prepared INSERTs.
"""
