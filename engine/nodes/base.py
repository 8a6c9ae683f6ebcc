"""The contract between the engine and a node type.

A node type is a small class with a `type` name, a JSON schema for its `config`, and
`run(ctx) -> output`. The runtime renders `{{…}}` templates in the config before `run`
(except the fields named in `raw_fields`, which hold JavaScript), applies the common
policies (timeout, retry, onError) around it, and persists what it returns. Nothing here
imports Django: node types are unit-testable with a hand-made context.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from engine.core.json_bounds import (
    DEFAULT_HTTP_JSON_MAX_VALUES,
    DEFAULT_OUTPUT_MAX_BYTES,
    DEFAULT_OUTPUT_MAX_DEPTH,
)

# The documented range of every number a definition may hold (README, "Limits"). A value
# outside it is a validation error on save and on run, so that nothing absurd (a delay of
# 1e15 ms, a rate of 1e-300 per second, a negative queue) ever reaches the engine.
MAX_DURATION_MS = 7 * 24 * 3600 * 1000  # timeouts, delays, waits: at most a week
MAX_CONCURRENCY = 10_000  # node runs of one execution / items of one loop in flight
MAX_QUEUE_SIZE = 1_000_000
MAX_BATCH_SIZE = 1_000_000
MIN_RATE_LIMIT = 0.001  # item starts per second: one per ~17 minutes at the slowest
MAX_RATE_LIMIT = 100_000
MAX_ATTEMPTS = 100


def duration_ms(minimum: int, description: str, **extra: Any) -> dict[str, Any]:
    """The schema of a number of milliseconds within the documented range."""
    return {"type": "integer", "minimum": minimum, "maximum": MAX_DURATION_MS, "description": description, **extra}


# Config keys every node accepts (SPEC §3); the runtime handles them, not the node.
RETRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Retry",
    "properties": {
        "maxAttempts": {"type": "integer", "minimum": 1, "maximum": MAX_ATTEMPTS, "default": 1},
        "backoff": {"type": "string", "enum": ["fixed", "exponential"], "default": "fixed"},
        "initialDelay": duration_ms(0, "ms before the 2nd attempt", default=1000),
        "maxDelay": duration_ms(0, "cap on the delay between attempts (ms)"),
        "jitter": {"type": ["boolean", "number"], "minimum": 0, "maximum": 1,
                   "description": "true or a 0–1 fraction of random spread"},
    },
    "additionalProperties": False,
}

PARALLEL_POLICY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Parallel policy",
    "description": "Governs the parallel section this node joins (SPEC §4.3).",
    "properties": {
        "onPartialFailure": {"type": "string", "enum": ["fail", "continue", "collect"], "default": "fail",
                             "description": "fail: a failed branch fails the section; continue: failed branches "
                                            "are left out; collect: {results, successCount, failureCount}, "
                                            "failures included"},
        "minSuccessRate": {"type": "number", "minimum": 0, "maximum": 1,
                           "description": "with continue or collect: fail below this share of successes"},
        "collectErrors": {"type": "boolean", "default": False,
                          "description": "with continue or collect: the output also carries `errors`, one entry "
                                         "per branch or item that failed or was cut, in one shape for both: "
                                         "`{\"branch\": \"branch_b\", \"error\": \"card declined\"}`, "
                                         "`{\"index\": 1, \"error\": \"Expression threw Error: bad (line 1)\", "
                                         "\"details\": {\"kind\": \"thrown\"}}` — `error` is the message, "
                                         "`details` what else the failure said (left out when nothing)"},
        "failFast": {"type": "boolean", "default": False,
                     "description": "at the first failure the section fails at once, without waiting"},
        "cancelOnFailure": {"type": "boolean", "default": False,
                            "description": "at the first failure the running branches are cancelled (they end "
                                           "cancelled, not failed: \"1 of 3 branches failed; 2 cancelled\")"},
        "totalTimeout": duration_ms(1, "ms from the fan-out"),
        "onTimeout": {"type": "string", "enum": ["fail", "collect_partial"], "default": "fail",
                      "description": "at totalTimeout, fail: the section fails; collect_partial: it goes on "
                                     "with what finished, the rest cancelled and listed under `cancelled`"},
    },
    "additionalProperties": False,
}

# Said the same way on a node and on a branch (engine.core.rules.BRANCH_SCHEMA).
ON_TIMEOUT_DESCRIPTION = ("at timeout, cancel: stop it as timed out, without retry or onError; continue: "
                          "it succeeds with {timedOut: true}; error: a timeout error, retried and handled "
                          "by onError like any failure")

COMMON_PROPERTIES: dict[str, Any] = {
    "timeout": duration_ms(1, "ms before the node run times out"),
    "onTimeout": {"type": "string", "enum": ["cancel", "continue", "error"], "default": "error",
                  "description": ON_TIMEOUT_DESCRIPTION},
    "retry": RETRY_SCHEMA,
    "onError": {"type": "string", "enum": ["fail", "continue", "route"], "default": "fail",
                "description": "after the last attempt, fail: the failure stops this path; continue: "
                               "it succeeds with {error}; route: it follows the `error` handle"},
    "compensate": {"type": "string", "description": "node id run during rollback"},
    # Any node with several incoming branches is a join and may govern its section; on a
    # node that joins nothing it is a validation error (engine.core.graph).
    "parallel": PARALLEL_POLICY_SCHEMA,
}
COMMON_KEYS = frozenset(COMMON_PROPERTIES)


class NodeError(Exception):
    """A node run failed with a message a user can act on."""

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None, retryable: bool = True):
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})
        self.retryable = retryable

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, **({"details": self.details} if self.details else {})}


class NodeCancelled(Exception):
    """Raised inside `run` when the node run was cancelled (ctx.cancelled is set)."""


@dataclass
class Route:
    """Output plus the handle to follow (`condition` returns "true"/"false")."""

    output: Any
    handle: str


@dataclass
class Sleep:
    """Ask the runtime to finish this node run after `duration_ms` without holding a
    worker thread; the output is produced then. Cancelling the run cancels the wait."""

    duration_ms: float
    output: Any = None


@dataclass
class AwaitSignal:
    """Pause the execution at this node until a `resume` signal; the signal's data becomes
    the output (used by `approval`)."""

    reason: str = "Awaiting approval"
    approvers: list[str] = field(default_factory=list)


@dataclass
class BranchResult:
    """One incoming branch of a join, as the merge sees it."""

    branch: str
    success: bool
    data: Any = None
    error: Any = None
    cancelled: bool = False


# Items one loop node run may have (FLOWMAESTRO_LOOP_MAX_ITEMS): `bench bigloop`'s million.
DEFAULT_LOOP_MAX_ITEMS = 1_000_000
# Node runs one execution may record (FLOWMAESTRO_EXECUTION_MAX_NODE_RUNS): a million-item
# loop with up to four nodes in its body, retries aside.
DEFAULT_EXECUTION_MAX_NODE_RUNS = 5_000_000


@dataclass
class EngineOptions:
    http_allow_private: bool = False
    expression_timeout_ms: int = 1000
    expression_memory_mb: int = 64
    expression_max_output_bytes: int = 1_000_000
    # How deep a node run's output may nest (engine.core.json_bounds; FLOWMAESTRO_OUTPUT_MAX_DEPTH).
    output_max_depth: int = DEFAULT_OUTPUT_MAX_DEPTH
    # How long a node run's output and its rendered config may be, in characters of JSON
    # (engine.core.json_bounds; FLOWMAESTRO_OUTPUT_MAX_BYTES).
    output_max_bytes: int = DEFAULT_OUTPUT_MAX_BYTES
    # How many values and keys an `http` node's JSON answer may parse into, counted before
    # it is parsed (engine.core.json_bounds; FLOWMAESTRO_HTTP_JSON_MAX_VALUES).
    http_json_max_values: int = DEFAULT_HTTP_JSON_MAX_VALUES
    # Items one loop node run may have (engine.core.loops; FLOWMAESTRO_LOOP_MAX_ITEMS), and
    # node runs one execution may record (engine.core.records; FLOWMAESTRO_EXECUTION_MAX_NODE_RUNS).
    loop_max_items: int = DEFAULT_LOOP_MAX_ITEMS
    execution_max_node_runs: int = DEFAULT_EXECUTION_MAX_NODE_RUNS


class CancelFlag:
    """`threading.Event`'s `is_set`/`set`/`wait`, with the Event (a Condition and two
    locks) made only when someone waits: a 10,000-item loop makes 10,000 contexts and
    almost never waits on one."""

    __slots__ = ("_set", "_event", "_lock")

    def __init__(self) -> None:
        self._set = False
        self._event: threading.Event | None = None
        self._lock = threading.Lock()

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        with self._lock:
            self._set = True
            if self._event is not None:
                self._event.set()

    def wait(self, timeout: float | None = None) -> bool:
        with self._lock:
            if self._set:
                return True
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        return event.wait(timeout)


@dataclass
class NodeContext:
    """Everything a node run may look at. Built by the runtime for each attempt."""

    node_id: str
    name: str
    type: str
    config: dict[str, Any]
    input: Any
    execution_id: Any
    trace_id: str
    branch_id: str
    branch_name: str
    attempt: int = 1
    iteration: int | None = None
    # The execution's OpenTelemetry trace id (engine.core.tracecontext): the `http` node
    # sends it in `traceparent`.
    otel_trace_id: str | None = None
    # Who started the execution (a user id, or None): the sandbox shares its workers fairly
    # between owners.
    owner: Any = None
    # Variables for expressions and templates: `input`, upstream outputs by node id,
    # `variables`, `parallel`, `branch`, `execution`, `trace`, `signal`, the loop item.
    scope: dict[str, Any] = field(default_factory=dict)
    # For joins: the incoming branches by name (also bound as variables in expressions).
    branches: dict[str, Any] = field(default_factory=dict)
    branch_results: list[BranchResult] = field(default_factory=list)
    options: EngineOptions = field(default_factory=EngineOptions)
    cancelled: CancelFlag = field(default_factory=CancelFlag)
    log_sink: Callable[[str], None] | None = None
    _cancel_callbacks: list[Callable[[], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def log(self, message: str) -> None:
        if self.log_sink is not None:
            self.log_sink(str(message))

    def expression_bindings(self) -> dict[str, Any]:
        """Names visible to JavaScript (SPEC §5)."""
        bindings = dict(self.scope)
        bindings.update(self.branches)
        bindings["input"] = self.input
        return bindings

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Run `callback` (from another thread) when this node run is cancelled, e.g. to
        abort an HTTP request. Runs at once if already cancelled."""
        with self._lock:
            if not self.cancelled.is_set():
                self._cancel_callbacks.append(callback)
                return
        callback()

    def cancel(self) -> None:
        with self._lock:
            self.cancelled.set()
            callbacks, self._cancel_callbacks = self._cancel_callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - a failing abort must not stop the others
                pass

    def raise_if_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise NodeCancelled()


class NodeType:
    """Base class: subclasses set the class attributes and implement `run`."""

    type: ClassVar[str]
    title: ClassVar[str]
    category: ClassVar[str] = "Core"
    description: ClassVar[str] = ""
    # JSON schema of the node-specific config (common keys are added by `full_schema`).
    config_schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}
    defaults: ClassVar[dict[str, Any]] = {}
    # Output handles besides the default one (condition: true/false).
    output_handles: ClassVar[list[str]] = []
    # Config fields that are JavaScript and must not be template-rendered.
    raw_fields: ClassVar[frozenset[str]] = frozenset()
    # Cheap, non-blocking nodes run on the coordinator thread: no thread hop per node.
    inline: ClassVar[bool] = False
    container: ClassVar[bool] = False
    # A body that may run in another process (a Celery worker, engine.executors): it only
    # reads its context and returns JSON, never the engine's state (blocking I/O, JavaScript).
    remote: ClassVar[bool] = False
    # A body that only computes data from its input and templates (no outside call, no
    # wait, no JavaScript): as a custom signal handler it runs even while the run is paused.
    data_only: ClassVar[bool] = False
    # Whether its output may be pinned as test data (editor.pins): a node whose output is
    # plain data the rest of the run only reads. Not a node whose work is routing (a
    # condition's handle), joining, waiting, looping, setting variables or ending the run:
    # its pinned "output" would skip exactly what the run needs it for.
    pinnable: ClassVar[bool] = False

    @classmethod
    def only_data(cls, config: Mapping[str, Any]) -> bool:
        """Whether this node run only computes data (see `data_only`); a paused run starts
        no other node work, so a handler node of another kind waits for the resume."""
        return cls.data_only and cls.runs_inline(config)

    @classmethod
    def config_checks(cls, config: Mapping[str, Any]) -> tuple[str, ...]:
        """Problems of a config that its JSON Schema cannot say (checked on save, after the
        schema): `config.<field>: why`. None by default."""
        return ()

    @classmethod
    def runs_inline(cls, config: Mapping[str, Any]) -> bool:
        """Whether this node run may run on the coordinator (override when it depends on
        the config, e.g. a transform is cheap unless it runs JavaScript)."""
        return cls.inline

    @classmethod
    def runs_remote(cls, config: Mapping[str, Any]) -> bool:
        """Whether a remote executor may send this node run to another process."""
        return cls.remote and not cls.runs_inline(config)

    @classmethod
    def full_schema(cls) -> dict[str, Any]:
        schema = dict(cls.config_schema)
        props = dict(COMMON_PROPERTIES)
        props.update(schema.get("properties", {}))
        schema["properties"] = props
        schema.setdefault("type", "object")
        return schema

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "type": cls.type,
            "title": cls.title,
            "category": cls.category,
            "description": cls.description,
            "schema": cls.full_schema(),
            "defaults": dict(cls.defaults),
            "ports": {"inputs": ["in"] if cls.type != "start" else [], "outputs": ["out", *cls.output_handles]},
            "container": cls.container,
            "pinnable": cls.pinnable,
        }

    def run(self, ctx: NodeContext) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError
