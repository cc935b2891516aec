"""Opening run files read-only with HDF5, including files a writer has not closed.

A file that is being written (or whose writer died) is marked "open for write"; HDF5 only
reads it in SWMR mode.  A SWMR reader retries every metadata read whose checksum fails, in
case it caught the writer mid-write, with a delay that doubles each time: HDF5's default of
100 attempts means a damaged file (truncated, disk full) makes the reader wait practically
forever.  Torn reads of a live writer resolve within microseconds, so nvsense allows
:data:`SWMR_READ_ATTEMPTS` attempts (about a millisecond of waiting in all) and then reports
the file as damaged.  h5py does not expose that setting, so it is set through the HDF5
library h5py has already loaded.
"""

from __future__ import annotations

import ctypes
import glob
import os
from functools import lru_cache
from pathlib import Path

import h5py

__all__ = ["SWMR_READ_ATTEMPTS", "is_open_for_write_error", "open_swmr_reader"]

SWMR_READ_ATTEMPTS = 20


def is_open_for_write_error(error: OSError) -> bool:
    """Whether HDF5 refused a plain read-only open because the file is marked open for
    write (a live or crashed SWMR writer), as opposed to damage."""
    text = str(error)
    return "already open for write" in text or "consistency flags" in text


@lru_cache(maxsize=1)
def _hdf5_library() -> ctypes.CDLL | None:
    """The HDF5 shared library h5py uses, if it can be found already loaded."""
    package = Path(h5py.__file__).parent
    patterns = [
        package.parent / "h5py.libs" / "libhdf5-*.so*",  # manylinux wheels
        package / ".dylibs" / "libhdf5.*.dylib",  # macOS wheels
        package / "hdf5.dll",  # Windows wheels
    ]
    mode = getattr(os, "RTLD_NOLOAD", 0)  # only ever bind to the copy already loaded
    for pattern in patterns:
        for candidate in sorted(glob.glob(str(pattern))):
            if "_hl" in Path(candidate).name:
                continue
            try:
                library = ctypes.CDLL(candidate, mode=mode)
            except OSError:
                continue
            if hasattr(library, "H5Pset_metadata_read_attempts"):
                return library
    return None


def _reader_fapl() -> h5py.h5p.PropFAID:
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    library = _hdf5_library()
    if library is not None:
        library.H5Pset_metadata_read_attempts.argtypes = [ctypes.c_int64, ctypes.c_uint]
        library.H5Pset_metadata_read_attempts(fapl.id, SWMR_READ_ATTEMPTS)
    return fapl


def open_swmr_reader(path: Path) -> h5py.File:
    """Open ``path`` read-only in SWMR mode with few metadata read attempts."""
    flags = h5py.h5f.ACC_RDONLY | h5py.h5f.ACC_SWMR_READ
    fid = h5py.h5f.open(os.fsencode(path), flags, fapl=_reader_fapl())
    return h5py.File(fid)
