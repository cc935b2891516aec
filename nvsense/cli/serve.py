"""``nvsense serve``: the data folder's runs, read-only, over HTTP with Tiled."""

from __future__ import annotations

import argparse
import sys

from ..storage.datadir import DATA_DIR_ENV, DEFAULT_DATA_DIR, resolve_data_dir

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` command."""
    serve = subparsers.add_parser(
        "serve", help="serve the runs read-only (Tiled API and web pages)",
        description="Serve a data folder's runs read-only with Tiled: colleagues list runs "
        "and load them as xarray Datasets with Tiled's client, or browse them at /runs. "
        "Listens on this machine only unless --host says otherwise; on a network it "
        "requires an API key.")
    serve.add_argument("data_dir", nargs="?", metavar="DATA_DIR",
                       help=f"data folder (default: ${DATA_DIR_ENV}, else ./{DEFAULT_DATA_DIR})")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only; "
                       "0.0.0.0: every network, with an API key)")
    serve.add_argument("--api-key", help="the API key clients must give (default: none on "
                       "this machine; a new random key on a network; or "
                       "$NVSENSE_SERVE_API_KEY)")
    serve.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """``nvsense serve``: print what is served and how, then serve until Ctrl-C."""
    from ..serve.app import build_app, count_runs, plan_server

    if not 0 < args.port < 65536:
        print(f"nvsense: --port {args.port}: give a TCP port 1-65535", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        plan = plan_server(resolve_data_dir(args.data_dir), host=args.host, port=args.port,
                           api_key=args.api_key)
        app = build_app(plan)
    except (FileNotFoundError, ValueError, ImportError) as exc:
        print(f"nvsense: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    import uvicorn

    print(plan.banner(count_runs(plan.data_dir)), flush=True)
    uvicorn.run(app, host=plan.host, port=plan.port, log_level="warning")
    return EXIT_OK
