"""The sleep server of `bench scaleout` as its own process: `python -m engine.bench.sleepserver`
prints its port, then answers every request after `?ms=` milliseconds (HTTP/1.1 keep-alive;
asyncio sets TCP_NODELAY on every connection).

A process of its own, not a thread of the bench: inside the bench process each response
waited for the GIL of a process that also polls and coordinates, which added milliseconds
to every 10 ms call, for our `http` nodes and raw Celery's GETs alike."""

from __future__ import annotations

import asyncio
import os
import sys


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            line = head.split(b"\r\n", 1)[0].decode()
            ms = 10.0
            if "ms=" in line:
                ms = float(line.split("ms=", 1)[1].split("&", 1)[0].split(" ", 1)[0])
            await asyncio.sleep(ms / 1000)
            body = b'{"slept": true}'
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def _main() -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    # Ends with the bench: its stdin closes when the bench process goes.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    os._exit(0)  # open keep-alive connections need no goodbye


if __name__ == "__main__":
    asyncio.run(_main())
