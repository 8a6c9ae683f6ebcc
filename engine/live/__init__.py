"""The live stream (SPEC §8): committed events from the engine to the browsers watching.

- `announce`: after each flush, on the engine's announcer thread, hands a batch to this
  process's consumers (`relay`) and to the channel layer for other processes;
- `relay`: the in-process fan-out (events encoded once, shared by every consumer) and the
  per-process channel-layer relay;
- `frames`: prebuilt websocket frames, and the daphne extension that sends them (installed
  by `flowmaestro.asgi`);
- `consumers`: the websocket consumers (one execution's events, the executions list);
- `routing`: their URLs.
"""
