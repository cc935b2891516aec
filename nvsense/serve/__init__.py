"""Serving a data folder's runs, read-only, with Tiled.

``nvsense serve DATA_DIR`` (see :mod:`nvsense.cli.serve`) starts a Tiled server whose root
lists the catalogue's runs; each run is an ``xarray_dataset`` node (its variables and
coordinates with their attributes, the run's attributes and catalogue row as metadata),
read through :func:`nvsense.open_run` on each request, so a run still being written shows
the records written so far.  A colleague reads a run with Tiled's client::

    from tiled.client import from_uri
    client = from_uri("http://127.0.0.1:8000")            # api_key=... when one is required
    list(client)                                          # run ids, oldest first
    ds = client["20261128-140455-odmr-3f2a"].read()       # an xarray.Dataset

and browses the runs with Tiled's web interface (``/ui/``) or nvsense's own pages
(``/runs``).  Needs the optional extra ``serve`` (``pip install "nvsense[serve]"``).
"""

from .tree import run_adapter, run_tree

__all__ = ["run_adapter", "run_tree"]
