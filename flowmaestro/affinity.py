"""Keep a process's GIL-bound threads on one core (Linux), leave the rest of the machine to
the work that runs outside the GIL.

In one Python process only one thread runs Python at a time. When the threads that take
turns (daphne's event loop, the HTTP threads, the engine's coordinator, writer and
announcer) sit on different cores, every hand-off of the GIL moves the interpreter's
working set from one core's cache to the other's: `bench runs` measured 5.4–5.9 ms of CPU
per run unpinned and 4.3–4.4 ms with the process on one core (168–182 against 219–227
runs/s). Pinning everything would also pin what does not need the GIL: node bodies on the
engine's worker threads and the JavaScript sandbox's V8 processes. So the process pins its
main thread early (threads inherit their creator's mask), and `release` gives the worker
threads and the sandbox processes the original mask back.
"""

from __future__ import annotations

import os

_original: set[int] | None = None


def pin_process_threads(setting: str) -> int | None:
    """Pin the calling thread (and so every thread it starts from now on) to one CPU:
    `setting` is a CPU number, or "auto" for one of the allowed CPUs chosen by process id
    (so that several processes spread out). Returns the CPU, or None when nothing was done
    (a single allowed CPU, no `sched_setaffinity`, or "off")."""
    global _original
    if setting in ("", "off", "false") or not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None
    if setting == "auto":
        cpu = allowed[os.getpid() % len(allowed)]
    elif setting.isdigit():
        cpu = int(setting)
    else:
        raise ValueError(f"FLOWMAESTRO_PIN_THREADS is auto, off or a CPU number, not {setting!r}")
    if cpu not in allowed:
        return None
    _original = set(allowed)
    os.sched_setaffinity(0, {cpu})
    return cpu


def release(pid: int = 0) -> None:
    """Give the calling thread (or process `pid`) the mask the process had before pinning."""
    if _original is not None:
        try:
            os.sched_setaffinity(pid, _original)
        except OSError:  # the process is gone already
            pass


def pinned() -> bool:
    return _original is not None
