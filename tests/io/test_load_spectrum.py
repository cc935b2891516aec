"""nvsense.load_spectrum: every format of issue 13 item 1, the detection of columns and units,
repeated frequencies, and one clear error for what cannot be read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nvsense
from nvsense.io import SpectrumFileError, load_spectrum
from nvsense.storage import RunWriter, odmr_schema

REAL = Path(__file__).parents[1] / "data" / "real"
F_HZ = np.linspace(2.84e9, 2.90e9, 61)
Y = 1e4 * (1 - 0.04 / (1 + 4 * ((F_HZ - 2.87e9) / 5e6) ** 2))
E = np.sqrt(Y)


def _check(da, sigma: bool = False, rtol: float = 1e-9) -> None:
    np.testing.assert_allclose(da.frequency.values, F_HZ, rtol=min(rtol, 1e-12) * 1e3)
    np.testing.assert_allclose(da.values, Y, rtol=rtol)
    assert da.frequency.attrs["units"] == "Hz"
    assert ("sigma" in da.coords) is sigma
    if sigma:
        np.testing.assert_allclose(da.coords["sigma"].values, E, rtol=1e-9)


def _write(path: Path, header: str | None, rows: np.ndarray, delimiter: str = ",",
           fmt: str = "%.10g") -> Path:
    np.savetxt(path, rows, delimiter=delimiter, fmt=fmt, header=header or "", comments="")
    if header is None:  # np.savetxt writes an empty first line for header=""
        path.write_text(path.read_text().lstrip("\n"))
    return path


@pytest.mark.parametrize(("header", "scale", "delimiter"), [
    ("frequency (Hz),counts,error", 1.0, ","),
    ("Frequency [MHz]\tPL\tsigma", 1e-6, "\t"),
    ("freq_GHz;signal;std", 1e-9, ";"),
    (None, 1e-6, " "),  # no header: columns and unit (MHz) from the values
])
def test_text_tables(tmp_path, header, scale, delimiter):
    rows = np.column_stack([F_HZ * scale, Y, E]) if header else np.column_stack([F_HZ * scale, Y])
    path = _write(tmp_path / "s.csv", header, rows, delimiter)
    da = load_spectrum(path)
    _check(da, sigma=header is not None)
    assert da.attrs["frequency_unit"] == {1.0: "Hz", 1e-6: "MHz", 1e-9: "GHz"}[scale]


def test_qudi_cw_odmr_file(tmp_path):
    """Qudi's CW ODMR file: a '#' header of parameters, then tab-separated columns with the
    names in the last comment line."""
    text = ["#Saved Data from the class OdmrLogic on 01.03.2023 at 10h00m00s.", "#",
            "#Parameters:", "#===========", "#", "#Microwave CW Power (dBm): -30.0",
            "#Run Time (s): 60", "#", "#Data:", "#=====",
            "#Frequency (Hz)\tCount data (counts/s)"]
    text += [f"{f:.6e}\t{y:.6e}" for f, y in zip(F_HZ, Y)]
    path = tmp_path / "20230301-1000-00_ODMR_data_ch0_range0.dat"
    path.write_text("\n".join(text) + "\n")
    da = load_spectrum(path)
    _check(da, rtol=1e-6)  # (written with 7 digits)
    assert da.attrs["format"] == "qudi"
    assert da.attrs["signal_column"] == "Count data (counts/s)"
    assert "Microwave CW Power (dBm): -30.0" in da.attrs["file_header"]


def test_qudi_pulsed_file_from_the_real_corpus():
    da = nvsense.load_spectrum(REAL / "qudi_hira_pulsed_odmr_20220315-2050-39.dat")
    assert da.attrs["format"] == "qudi-pulsed"
    assert da.sizes["frequency"] == 40
    assert da.frequency.values[0] == 2.85e9 and da.frequency.values[-1] == 2.889e9
    assert da.values[0] == pytest.approx(1.091035609573383)
    assert da.coords["sigma"].values[0] == pytest.approx(4.346961962392036e-03)


def test_columns_given_by_name_or_index_and_the_unit(tmp_path):
    rows = np.column_stack([np.arange(F_HZ.size), F_HZ / 1e3, Y, 2 * Y])
    path = _write(tmp_path / "s.txt", "index\tf\tch0\tch1", rows, "\t")
    with pytest.raises(SpectrumFileError, match="frequency_unit"):
        load_spectrum(path, frequency="f", frequency_unit="Hz")  # 2.87e6 Hz: no NV sweep
    with pytest.raises(SpectrumFileError, match="frequency_unit"):
        load_spectrum(path, frequency="f", frequency_unit="parsec")
    assert load_spectrum(path, frequency="f").attrs["frequency_unit"] == "kHz"  # by magnitude
    da = load_spectrum(path, frequency="f", signal=2, frequency_unit="kHz")
    _check(da)
    assert load_spectrum(path, frequency=1, signal="ch1", frequency_unit="kHz").values[0] == (
        pytest.approx(2 * Y[0]))


def test_repeated_and_unsorted_frequencies(tmp_path):
    """Three sweeps concatenated, shuffled: averaged per frequency, sorted, with a note."""
    rng = np.random.default_rng(0)
    f = np.tile(F_HZ, 3)
    y = np.concatenate([Y - 1, Y, Y + 1])
    order = rng.permutation(f.size)
    path = _write(tmp_path / "s.csv", "frequency,counts", np.column_stack([f, y])[order])
    da = load_spectrum(path)
    _check(da)
    assert "repeated frequency" in da.attrs["notes"]
    assert da.attrs["n_averages"] == 3


def test_matlab_v5_and_v73(tmp_path):
    from scipy.io import savemat

    v5 = tmp_path / "odmr.mat"
    savemat(v5, {"freqList": F_HZ / 1e9, "data": np.vstack([Y, Y + 5]), "note": "ODMR"})
    da = load_spectrum(v5)
    np.testing.assert_allclose(da.frequency.values, F_HZ, rtol=1e-12)
    np.testing.assert_allclose(da.values, Y)  # the first of the two spectra, with a note
    assert "data[1]" in da.attrs["notes"]
    np.testing.assert_allclose(load_spectrum(v5, signal="data[1]").values, Y + 5)
    v73 = _matlab73(tmp_path / "odmr73.mat", {"f": F_HZ, "odmr": Y})
    _check(load_spectrum(v73))


def _matlab73(path: Path, variables: dict[str, np.ndarray]) -> Path:
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 behind a 512-byte MAT header."""
    import h5py

    with h5py.File(path, "w", userblock_size=512) as h5:
        for name, value in variables.items():
            h5[name] = np.asarray(value)[None, :]  # MATLAB row vectors, stored transposed
    header = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 "
              b"HDF5 schema 1.00 .")
    block = header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as fh:
        fh.write(block.ljust(512, b"\x00"))
    return path


def test_numpy_files(tmp_path):
    np.save(tmp_path / "a.npy", np.column_stack([F_HZ, Y, E]))
    _check(load_spectrum(tmp_path / "a.npy"), sigma=True)
    np.save(tmp_path / "b.npy", np.vstack([F_HZ / 1e6, Y]))  # (2, n): rows
    _check(load_spectrum(tmp_path / "b.npy"))
    np.savez(tmp_path / "c.npz", frequencies=F_HZ, counts=Y)
    _check(load_spectrum(tmp_path / "c.npz"))


def test_nvsense_run_file_gives_the_average_and_its_sweep_count(tmp_path):
    schema = odmr_schema(F_HZ, 1)
    with RunWriter(tmp_path / "run.nc", "odmr", schema) as run:
        for i in range(4):
            run.append(time=float(i), counts=Y + (i - 1.5))
        run.close("completed")
    da = load_spectrum(tmp_path / "run.nc")
    _check(da)
    assert da.attrs["n_averages"] == 4 and da.attrs["format"] == "nvsense-run"
    np.testing.assert_allclose(load_spectrum(tmp_path / "run.nc", sweep=0).values, Y - 1.5)


def test_files_that_are_not_spectra(tmp_path):
    with pytest.raises(SpectrumFileError, match="no such file"):
        load_spectrum(tmp_path / "missing.csv")
    (tmp_path / "notes.txt").write_text("a spectrum was measured\nbut not saved\n")
    with pytest.raises(SpectrumFileError, match="no table of numbers"):
        load_spectrum(tmp_path / "notes.txt")
    one = _write(tmp_path / "one.csv", "frequency,counts", np.column_stack([F_HZ[:3], Y[:3]]))
    with pytest.raises(SpectrumFileError, match="usable point"):
        load_spectrum(one)
    with pytest.raises(SpectrumFileError, match="no such column"):
        load_spectrum(REAL / "qudi_hira_pulsed_odmr_20220315-2050-39.dat", signal="counts")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(SpectrumFileError, match="NumPy"):
        load_spectrum(tmp_path / "bad.npy")
