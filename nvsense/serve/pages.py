"""nvsense's read-only pages beside the Tiled API: the run list (``/runs``) and one run
(``/runs/<run id>``) with its metadata, variables (dims, units) and a plot of its signal.

Tiled's own web interface (``/ui/``) browses the same tree; these pages show what a
physicist looks for first (status, times, field, D, parameters with units).
"""

# No `from __future__ import annotations` here: FastAPI reads the route functions' annotations
# (Request, Depends) as objects.
import html
import io
import json
import secrets
from typing import Any

import numpy as np

__all__ = ["pages_router"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.8em; text-align: left; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.completed { color: #176f2c; } .aborted, .interrupted { color: #b3261e; }
.running { color: #0b57d0; } .note { color: #666; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(title)}"
            f"</title><style>{_STYLE}</style></head><body>{body}</body></html>")


def _number(value: Any, unit: str = "") -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _e(value)
    if not np.isfinite(value):
        return ""
    if unit and unit not in ("1", "dBm"):
        from ..units import format_quantity

        try:
            return _e(format_quantity(value, unit, 6))
        except (ValueError, KeyError, TypeError):
            pass
    text = f"{value:.6g}"
    return _e(f"{text} {unit}".strip() if unit and unit != "1" else text)


def _plot_svg(ds: Any, kind: str) -> str:
    """An SVG plot of the run's signal (averaged spectrum, or B(t))."""
    from matplotlib.figure import Figure

    from ..export.runs import signal_name

    signal = signal_name(ds, kind)
    var = ds[signal]
    fig = Figure(figsize=(7, 3.2), dpi=90)
    ax = fig.add_subplot()
    dim = var.dims[0]
    if var.ndim == 2 and var.dims[1] in ds.coords and var.dims[1] != "vector":
        if var.shape[0]:
            ax.plot(ds[var.dims[1]].values, np.nanmean(var.values, axis=0))
        ax.set_xlabel(f"{var.dims[1]} ({ds[var.dims[1]].attrs.get('units', '')})")
        ax.set_ylabel(f"mean {signal} ({var.attrs.get('units', '')})")
    else:
        ax.plot(ds[dim].values, var.values if var.ndim == 1 else var.values.reshape(
            var.shape[0], -1))
        ax.set_xlabel(f"{dim} ({ds[dim].attrs.get('units', '')})")
        ax.set_ylabel(f"{signal} ({var.attrs.get('units', '')})")
    fig.tight_layout()
    out = io.StringIO()
    fig.savefig(out, format="svg")
    text = out.getvalue()
    return text[text.find("<svg"):]


def pages_router(tree: Any, plan: Any) -> Any:
    """A FastAPI router with the run list and run pages (API key checked when required)."""
    from fastapi import APIRouter, Depends, HTTPException, Request
    from fastapi.responses import HTMLResponse

    router = APIRouter()
    mapping = tree._mapping

    def check_key(request: Request) -> str:
        """'' when no key is needed, else the key (for links)."""
        if not plan.api_key:
            return ""
        given = (request.query_params.get("api_key")
                 or request.headers.get("authorization", "").removeprefix("Apikey ").strip()
                 or request.cookies.get("nvsense_api_key") or "")
        if not secrets.compare_digest(given.encode(), plan.api_key.encode()):
            raise HTTPException(status_code=401, detail="API key required: add "
                                "?api_key=KEY to the address (nvsense serve printed it)")
        return given

    def suffix(key: str) -> str:
        return f"?api_key={html.escape(key)}" if key else ""

    @router.get("/runs", response_class=HTMLResponse)
    def run_list(key: str = Depends(check_key)) -> HTMLResponse:
        rows = mapping._rows()
        body = [f"<h1>nvsense runs</h1><p class=note>{_e(plan.data_dir)} &middot; "
                f"{len(rows)} run(s), read-only &middot; <a href='/ui/{suffix(key)}'>"
                "Tiled browser</a></p>",
                "<table id=runs><tr><th>run</th><th>kind</th><th>status</th><th>start</th>"
                "<th>records</th><th>field</th><th>D</th><th>campaign</th></tr>"]
        for run_id, row in rows.items():
            field = ", ".join(f"{a}={_number(row.get(f'field_{a}'), 'T')}" for a in "xyz"
                              if row.get(f"field_{a}") is not None)
            if row.get("field_parallel") is not None:
                field = f"∥={_number(row['field_parallel'], 'T')}"
            status = row.get("status") or ""
            body.append(
                f"<tr><td><a class=run href='/runs/{_e(run_id)}{suffix(key)}'>{_e(run_id)}"
                f"</a></td><td>{_e(row.get('kind'))}</td><td class={_e(status)}>{_e(status)}"
                f"</td><td>{_e(row.get('start_time'))}</td><td class=num>"
                f"{_e(row.get('n_records'))}</td><td>{field}</td><td class=num>"
                f"{_number(row.get('D'), 'Hz')}</td><td>{_e(row.get('campaign') or '')}"
                "</td></tr>")
        body.append("</table>")
        return HTMLResponse(_page("nvsense runs", "".join(body)))

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(run_id: str, key: str = Depends(check_key)) -> HTMLResponse:
        try:
            node = mapping[run_id]
        except KeyError:
            raise HTTPException(status_code=404, detail=f"no run {run_id} in the data "
                                "folder") from None
        info = node.metadata()["nvsense"]
        ds = node._mapping._dataset
        units = {**info.get("parameter_units", {})}
        body = [f"<p><a href='/runs{suffix(key)}'>&larr; all runs</a></p>",
                f"<h1>{_e(run_id)}</h1><p>{_e(info['kind'])} &middot; <span "
                f"class={_e(info['state'])} id=state>{_e(info['state'])}</span> &middot; "
                f"{_e(info['records'])} {_e(info['append_dim'])} record(s)</p>",
                "<table id=summary>"]
        for label, value in (("start", info["start_time"]), ("end", info["end_time"]),
                             ("abort reason", info["abort_reason"]),
                             ("campaign", info["campaign"]),
                             ("software", f"nvsense {info['software_version']}")):
            if value:
                body.append(f"<tr><th>{_e(label)}</th><td>{_e(value)}</td></tr>")
        for role, identity in info["instruments"].items():
            body.append(f"<tr><th>instrument {_e(role)}</th><td>{_e(identity)}</td></tr>")
        body.append("</table><h2>results</h2><table id=results>")
        for name, value in info["results"].items():
            unit = info["result_units"].get(name, "")
            body.append(f"<tr><th>{_e(name)}</th><td class=num>{_number(value, unit)}</td></tr>")
        body.append("</table><h2>parameters</h2><table id=parameters>")
        for name, value in info["parameters"].items():
            text = _number(value, units.get(name, "")) if not isinstance(value, dict) else \
                _e(json.dumps(value))
            body.append(f"<tr><th>{_e(name)}</th><td>{text}</td></tr>")
        body.append("</table><h2>signal</h2>")
        try:
            body.append(_plot_svg(ds, info["kind"]))
        except Exception as exc:  # a plot must not hide the rest of the page
            body.append(f"<p class=note>no plot: {_e(exc)}</p>")
        body.append("<h2>variables</h2><table id=variables><tr><th>name</th><th>dims</th>"
                    "<th>shape</th><th>units</th><th>description</th></tr>")
        for name, var in [*ds.coords.items(), *ds.data_vars.items()]:
            body.append(f"<tr><td>{_e(name)}</td><td>{_e(', '.join(map(str, var.dims)))}</td>"
                        f"<td>{_e(var.shape)}</td><td>{_e(var.attrs.get('units'))}</td>"
                        f"<td>{_e(var.attrs.get('long_name'))}</td></tr>")
        body.append("</table><p class=note>Python: <code>tiled.client.from_uri(URL)"
                    f"[{_e(repr(run_id))}].read()</code> gives this run as an xarray "
                    "Dataset.</p>")
        response = HTMLResponse(_page(run_id, "".join(body)))
        if key:
            response.set_cookie("nvsense_api_key", key, httponly=True, samesite="strict")
        return response

    return router
