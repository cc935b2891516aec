"""Reading other labs' spectrum files: :func:`load_spectrum`.

One call reads an ODMR spectrum from CSV/TSV/TXT tables (with or without a header), Qudi ODMR
and pulsed-measurement ``.dat`` files, MATLAB ``.mat`` files (v5 and v7.3), NumPy ``.npy`` and
``.npz`` files and nvsense run files, and returns an :class:`xarray.DataArray` with a
``frequency`` coordinate in Hz (and a ``sigma`` coordinate when the file has uncertainties).
The columns and the frequency unit are detected or given.

>>> da = load_spectrum("spectrum.csv")                    # doctest: +SKIP
>>> da = load_spectrum("odmr.dat", frequency_unit="MHz")  # doctest: +SKIP
>>> fit_spectrum(da.frequency.values, da.values)          # doctest: +SKIP
"""

from .errors import SpectrumFileError
from .spectrum import FORMATS, load_spectrum

__all__ = ["FORMATS", "SpectrumFileError", "load_spectrum"]
