"""``nvsense export``: runs to NeXus, RO-Crate, an RDE dataset, or MNE-Python (FIF).

``RUN`` is a run id (looked up in the data folder's catalogue) or a run file, as for
``nvsense show``, or ``latest`` / ``latest-<kind>`` (the newest run, of that kind).  Exports
never modify the runs; a run still being written is exported as the snapshot of its complete
records (with a note).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import Any

from ..storage import Catalog, CatalogError, RunFileError
from ..storage.datadir import DATA_DIR_ENV, DEFAULT_DATA_DIR

EXIT_OK = 0
EXIT_BAD_INPUT = 2

_DATA_DIR_HELP = f"data folder (default: ${DATA_DIR_ENV}, else ./{DEFAULT_DATA_DIR})"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``export`` and its formats."""
    export = subparsers.add_parser(
        "export", help="export runs: NeXus, RO-Crate, RDE dataset, MNE (FIF)",
        description="Export runs to the formats other tools and data platforms take. RUN is "
        "a run id, a run file (.nc), or latest / latest-KIND (the newest run, e.g. latest-odmr).")
    formats = export.add_subparsers(dest="format", metavar="FORMAT")

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data-dir", help=_DATA_DIR_HELP)
        parser.add_argument("--overwrite", action="store_true",
                            help="replace an existing output")

    nexus = formats.add_parser("nexus", help="NeXus/HDF5 file, an NXentry per run",
                               description="Write the runs into one NeXus (HDF5) file: an "
                               "NXentry per run with NXdata, NXinstrument, NXsample and "
                               "NXprocess.")
    nexus.add_argument("runs", nargs="+", metavar="RUN", help="run id, run file, or latest[-KIND]")
    nexus.add_argument("--out", required=True, metavar="FILE.nxs", help="the NeXus file")
    common(nexus)
    nexus.set_defaults(func=cmd_nexus)

    crate = formats.add_parser("rocrate", help="RO-Crate folder (runs, layout, bench, journal)",
                               description="Write an RO-Crate: the run files, the layout of "
                               "each, the bench configuration, the campaign journal and the "
                               "software version, described in ro-crate-metadata.json.")
    crate.add_argument("runs", nargs="*", metavar="RUN", help="run id, run file, or latest[-KIND]")
    crate.add_argument("--campaign", action="append", default=[], metavar="NAME",
                       help="every run of this campaign, and its journal; repeatable")
    crate.add_argument("--out", required=True, metavar="DIR", help="the crate's folder")
    crate.add_argument("--name", help="the crate's name")
    common(crate)
    crate.set_defaults(func=cmd_rocrate)

    rde = formats.add_parser("rde", help="RDE dataset folder (NIMS research data express)",
                             description="Build the dataset folder RDE takes (inputdata, "
                             "invoice, tasksupport, raw, structured, meta) with rdetoolkit.")
    rde.add_argument("runs", nargs="*", metavar="RUN", help="run id, run file, or latest[-KIND]")
    rde.add_argument("--campaign", action="append", default=[], metavar="NAME",
                     help="every run of this campaign; repeatable")
    rde.add_argument("--out", required=True, metavar="DIR", help="the dataset folder")
    rde.add_argument("--owner-id", required=True, metavar="ID",
                     help="the data owner's RDE user id (56 letters and digits)")
    rde.add_argument("--dataset-id", help="the RDE dataset id (default: a new UUID)")
    rde.add_argument("--name", help="the invoice's data name")
    rde.add_argument("--description", help="the invoice's description")
    common(rde)
    rde.set_defaults(func=cmd_rde)

    mne = formats.add_parser("mne", help="tracking run B(t) as an MNE-Python FIF file",
                             description="Write a tracking run as a FIF file: each field "
                             "component a magnetometer channel in T, the trigger line as the "
                             "stim channel when the run has one.")
    mne.add_argument("runs", nargs=1, metavar="RUN",
                     help="run id, run file, or latest-track (a tracking run)")
    mne.add_argument("--out", required=True, metavar="FILE.fif", help="the FIF file")
    common(mne)
    mne.set_defaults(func=cmd_mne)
    export.set_defaults(func=lambda args: _usage(export))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_BAD_INPUT


def _error(message: str) -> int:
    print(f"nvsense: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _targets(args: argparse.Namespace, catalog: Catalog) -> list[str]:
    targets = list(args.runs)
    for campaign in getattr(args, "campaign", []):
        rows = catalog.records(campaign=campaign)
        if not rows:
            raise CatalogError(f"no runs of campaign {campaign!r} in {catalog.data_dir}; "
                               "`nvsense runs --campaign NAME` lists them (or give "
                               "--data-dir)")
        targets += [row["file"] for row in rows]
    if not targets:
        raise CatalogError("name the runs to export (run ids or files) or --campaign NAME")
    return targets


def _run(args: argparse.Namespace, export: Callable[[list[Any], Catalog], Any]) -> int:
    from ..export.runs import ExportError, load_runs

    catalog = Catalog(args.data_dir)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            runs = load_runs(_targets(args, catalog), catalog)
        for warning in caught:
            print(f"note: {warning.message}; exporting its complete records", file=sys.stderr)
        out = export(runs, catalog)
    except (CatalogError, RunFileError, ExportError, FileExistsError, ImportError,
            ValueError, KeyError) as exc:
        return _error(str(exc).strip("'\""))
    print(f"exported {len(runs)} run(s) to {out}")
    return EXIT_OK


def cmd_nexus(args: argparse.Namespace) -> int:
    """``nvsense export nexus``."""
    from ..export.nexus import export_nexus

    return _run(args, lambda runs, _c: export_nexus(runs, args.out, overwrite=args.overwrite))


def cmd_rocrate(args: argparse.Namespace) -> int:
    """``nvsense export rocrate``."""
    from ..export.rocrate import export_rocrate

    return _run(args, lambda runs, catalog: export_rocrate(
        runs, args.out, data_dir=catalog.data_dir, campaigns=args.campaign, name=args.name,
        overwrite=args.overwrite))


def cmd_rde(args: argparse.Namespace) -> int:
    """``nvsense export rde``."""
    from ..export.rde import export_rde

    return _run(args, lambda runs, catalog: export_rde(
        runs, args.out, owner_id=args.owner_id, dataset_id=args.dataset_id,
        data_name=args.name, description=args.description, data_dir=catalog.data_dir,
        overwrite=args.overwrite))


def cmd_mne(args: argparse.Namespace) -> int:
    """``nvsense export mne``."""
    from ..export.mne_run import export_run_fif

    return _run(args, lambda runs, _c: export_run_fif(runs[0], args.out,
                                                      overwrite=args.overwrite))
