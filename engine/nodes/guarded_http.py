"""The guarded network layer of the `http` node (engine.nodes.http).

Server-side request forgery is the risk: a workflow author could point a request at the
machine's loopback services, the private network or a cloud metadata endpoint
(169.254.169.254). So every *connection* — the first request and each redirect hop — goes
through `_GuardedBackend.connect_tcp`, which resolves the host itself, refuses it if any
address is not public (unless private addresses are allowed), and connects to exactly the
address it checked (no second DNS lookup that a rebinding DNS server could answer
differently). Proxies from the environment are ignored for the same reason.

Connections are kept open (HTTP/1.1 keep-alive) for the thread's next node runs
(`thread_client`): a fresh client and TCP connection per call cost as much as a short call
itself. A kept connection stays pinned to the address checked when it was opened.

Cancellation: the backend keeps the sockets it opened; the cancel callback shuts them down,
which wakes a blocked connect/read at once (the thread's client is then dropped, and a
cancel that comes after the run ended is ignored).
"""

from __future__ import annotations

import errno
import ipaddress
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx
from httpcore._backends.sync import SyncStream

MAX_REDIRECTS = 10
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SSL_CONTEXT = httpx.create_ssl_context()

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PrivateAddressRefused(Exception):
    def __init__(self, host: str, address: str):
        super().__init__(f"{host} resolves to {address}, a private, loopback or reserved address")
        self.host = host
        self.address = address


class ConnectionCancelled(Exception):
    pass


def address_refused(ip: IPAddress) -> bool:
    """True for anything that is not a public unicast address, including IPv4 hidden in
    IPv6 (mapped, NAT64, 6to4, Teredo)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded: list[IPAddress] = []
        if ip.ipv4_mapped is not None:
            embedded.append(ip.ipv4_mapped)
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.sixtofour is not None:
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:
            embedded.extend(ip.teredo)
        if any(address_refused(inner) for inner in embedded):
            return True
    return (not ip.is_global) or ip.is_multicast


def resolve(host: str, port: int) -> list[tuple[int, Any]]:
    """(family, sockaddr) for each address of `host` (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [(family, sockaddr) for family, _type, _proto, _name, sockaddr in infos]


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, *, allow_private: bool):
        self.allow_private = allow_private
        self._sockets: list[socket.socket] = []
        self._aborted = False
        self._lock = threading.Lock()
        # One node run at a time uses a thread's backend; the cancel callback of an earlier
        # run (an execution cancelled after that run ended) must not touch a later one's.
        self._generation = 0

    def begin(self) -> int:
        """A node run starts on this backend: its cancel token."""
        with self._lock:
            self._generation += 1
            self._aborted = False
            self._sockets = [sock for sock in self._sockets if sock.fileno() != -1]
            return self._generation

    def end(self) -> None:
        with self._lock:
            self._generation += 1

    def aborter(self, generation: int) -> Callable[[], None]:
        def abort() -> None:
            self.abort(generation)

        return abort

    def abort(self, generation: int | None = None) -> None:
        """Called from another thread on cancel: wake every blocked socket operation (of the
        run holding `generation`, when given)."""
        with self._lock:
            if generation is not None and generation != self._generation:
                return
            self._aborted = True
            # Under the lock: the next run cannot start on a socket shut down after it began.
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        deadline = time.monotonic() + (timeout if timeout is not None else 3600)
        host = host.strip("[]")
        try:
            addresses = resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not self.allow_private:
            for _family, sockaddr in addresses:
                ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
                if address_refused(ip):
                    raise PrivateAddressRefused(host, str(ip))
        last_error: OSError | None = None
        for family, sockaddr in addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            with self._lock:
                if self._aborted:
                    sock.close()
                    raise ConnectionCancelled()
                self._sockets.append(sock)
            try:
                self._connect(sock, sockaddr, deadline)
            except OSError as exc:
                sock.close()
                last_error = exc
                continue
            sock.setblocking(True)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return SyncStream(sock)
        raise httpcore.ConnectError(f"cannot connect to {host}:{port}: {last_error}")

    def _connect(self, sock: socket.socket, sockaddr: Any, deadline: float) -> None:
        # A non-blocking connect polled in short slices, so that a cancel is noticed while
        # connecting to a host that never answers.
        sock.setblocking(False)
        code = sock.connect_ex(sockaddr)
        if code in (0, errno.EISCONN):
            return
        if code not in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            raise OSError(code, errno.errorcode.get(code, "connect failed"))
        while True:
            if self._aborted:
                raise ConnectionCancelled()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise httpcore.ConnectTimeout("connect timed out")
            _, writable, failed = select.select([], [sock], [sock], min(0.05, remaining))
            if writable or failed:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, errno.errorcode.get(code, "connect failed"))
                return

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, backend: _GuardedBackend):
        # The shared SSL context: without it the base class loads the CA bundle again for
        # every node run (a few hundred ms of CPU on a busy machine), for a pool it then drops.
        super().__init__(verify=_SSL_CONTEXT, trust_env=False)
        # httpx has no public hook for the network backend; the pool is the one it builds.
        self._pool = httpcore.ConnectionPool(
            ssl_context=_SSL_CONTEXT, max_connections=4, keepalive_expiry=5.0, network_backend=backend
        )


class _ThreadClient:
    """A node thread's keep-alive client: its connections are reused by the thread's next
    node runs (a new TCP connection and client per call cost more than a short call itself).

    Every connection is still opened by `_GuardedBackend.connect_tcp`, to the address it
    checked; a kept connection stays pinned to that address. Separate clients for allowed
    and refused private addresses, so a loopback connection opened under one setting is
    never reused under the other. Cookies do not carry over from one node run to the next."""

    def __init__(self, allow_private: bool):
        self.backend = _GuardedBackend(allow_private=allow_private)
        self.client = httpx.Client(
            transport=_GuardedTransport(self.backend),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            trust_env=False,
            headers={"User-Agent": "FlowMaestro/0.1"},
        )


_threads = threading.local()


def thread_client(allow_private: bool) -> _ThreadClient:
    clients: dict[bool, _ThreadClient] | None = getattr(_threads, "clients", None)
    if clients is None:
        clients = _threads.clients = {}
    if allow_private not in clients:
        clients[allow_private] = _ThreadClient(allow_private)
    return clients[allow_private]


def drop_thread_client(allow_private: bool) -> None:
    """After a failed or cancelled run: its connections may be half-read or shut down."""
    clients: dict[bool, _ThreadClient] = getattr(_threads, "clients", {})
    dropped = clients.pop(allow_private, None)
    if dropped is not None:
        dropped.client.close()
