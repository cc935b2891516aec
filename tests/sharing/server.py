"""Starting ``nvsense serve``'s app on a free localhost port in a thread, for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from nvsense.serve.app import ServerPlan, build_app, plan_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(data_dir: Path, api_key: str | None = None) -> Iterator[ServerPlan]:
    """The server on 127.0.0.1 until the block ends (then stopped and joined)."""
    plan = plan_server(data_dir, host="127.0.0.1", port=free_port(), api_key=api_key)
    server = uvicorn.Server(uvicorn.Config(build_app(plan), host=plan.host, port=plan.port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield plan
    finally:
        server.should_exit = True
        thread.join(timeout=10)
