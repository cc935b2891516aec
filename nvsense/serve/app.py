"""The server: Tiled's app over the data folder's runs, its security, and nvsense's pages.

- On ``127.0.0.1``/``localhost`` the runs are readable without a key (unless one is given).
- On any other address an API key is required: ``--api-key``, else ``$NVSENSE_SERVE_API_KEY``,
  else a new random key printed at start.
- Only run files inside the data folder are served; nothing can be written (the tree has no
  write methods; Tiled answers write requests with an error).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..storage import Catalog

__all__ = ["API_KEY_ENV", "SERVE_NOT_INSTALLED", "ServerPlan", "build_app", "is_local",
           "plan_server"]

API_KEY_ENV = "NVSENSE_SERVE_API_KEY"
SERVE_NOT_INSTALLED = ("serving runs needs Tiled: pip install \"nvsense[serve]\" "
                       "(or pip install \"tiled[server]\")")


def is_local(host: str) -> bool:
    """Whether ``host`` listens on this machine only (loopback)."""
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerPlan:
    """What ``nvsense serve`` will do: where, with which key, and what it says at start."""

    data_dir: Path
    host: str
    port: int
    api_key: str | None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def banner(self, n_runs: int) -> str:
        lines = [f"nvsense serve: {n_runs} run(s) of {self.data_dir}, read-only "
                 "(no writes; no file outside the data folder)",
                 f"  API:      {self.url}/api/v1/   (Tiled; Python: "
                 f"tiled.client.from_uri({self.url!r}"
                 + (", api_key=...)" if self.api_key else ")") + ")",
                 f"  browser:  {self.url}/runs   (run list)   {self.url}/ui/   (Tiled's UI)"]
        if self.api_key:
            lines.append(f"  API key required: {self.api_key}   (browser: "
                         f"{self.url}/runs?api_key={self.api_key})")
        else:
            lines.append("  listening on this machine only; no API key needed "
                         "(--host exposes it on a network, with a key)")
        return "\n".join(lines)


def plan_server(data_dir: str | os.PathLike[str], *, host: str = "127.0.0.1",
                port: int = 8000, api_key: str | None = None) -> ServerPlan:
    """Decide the key: required off this machine (given, from the environment, or new)."""
    folder = Path(data_dir).expanduser().absolute()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such data folder (give the folder that holds "
                                "catalog.sqlite)")
    key = api_key or os.environ.get(API_KEY_ENV) or None
    if key is not None and (not key.isalnum() or len(key) < 8):
        raise ValueError("--api-key: use at least 8 letters and digits")
    if key is None and not is_local(host):
        key = secrets.token_hex(16)
    return ServerPlan(data_dir=folder, host=host, port=int(port), api_key=key)


def build_app(plan: ServerPlan) -> Any:
    """The ASGI app: Tiled over the runs, plus nvsense's HTML pages at ``/runs``."""
    try:
        from tiled.config import Authentication
        from tiled.server.app import build_app as tiled_app
    except ImportError as exc:
        raise ImportError(SERVE_NOT_INSTALLED) from exc
    from .pages import pages_router
    from .tree import run_tree

    tree = run_tree(plan.data_dir)
    auth = Authentication(allow_anonymous_access=plan.api_key is None,
                          single_user_api_key=plan.api_key
                          or secrets.token_hex(16))  # never used when anonymous
    app = tiled_app(tree, auth, {})
    app.include_router(pages_router(tree, plan))
    return app


def count_runs(data_dir: Path) -> int:
    catalog = Catalog(data_dir)
    return len(catalog.records()) if catalog.path.exists() else 0
