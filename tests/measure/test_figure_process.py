"""The figure process of ``nvsense odmr`` (``nvsense.measure.figures.FigureProcess``): it
draws the same PNG as the in-process function, reports its errors, and ends without a file
when the run ends without a figure."""

from __future__ import annotations

import numpy as np
import pytest

from nvsense.measure.figures import FigureProcess, save_spectrum_figure, spectrum_figure_data


class _Fit:
    """The parts of a SweepAnalysis a figure uses: one Lorentzian dip."""

    success, message, kind = True, "", "parallel"
    field_parallel, D = 1.0e-3, 2.87e9
    centers = np.array([2.87e9])

    def curve(self, f):
        return 1e3 * (1 - 0.02 / (1 + ((np.asarray(f) - 2.87e9) / 1e6) ** 2))

    @property
    def best_fit(self):
        return self.curve(FREQUENCIES)


FREQUENCIES = np.linspace(2.86e9, 2.88e9, 101)


def test_the_process_draws_the_figure_the_function_draws(tmp_path):
    rng = np.random.default_rng(3)
    average = rng.poisson(_Fit().curve(FREQUENCIES)).astype(float)
    data = spectrum_figure_data(FREQUENCIES, average, _Fit(), title="run (completed)",
                                sweeps=2)
    figure = FigureProcess()
    figure.draw(tmp_path / "process.png", data)
    assert figure.wait() == tmp_path / "process.png"
    here = save_spectrum_figure(tmp_path / "here.png", FREQUENCIES, average, _Fit(),
                                title="run (completed)", sweeps=2)
    assert (tmp_path / "process.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the same drawing (Agg renders deterministically; the files may differ in metadata)
    from PIL import Image

    a = np.asarray(Image.open(tmp_path / "process.png"))
    b = np.asarray(Image.open(here))
    assert a.shape == b.shape and np.array_equal(a, b)


def test_a_figure_that_cannot_be_written_is_an_error_naming_the_cause(tmp_path):
    figure = FigureProcess()
    figure.draw(tmp_path / "no" / "such" / "folder.png",
                spectrum_figure_data(FREQUENCIES, _Fit().curve(FREQUENCIES), None))
    with pytest.raises(RuntimeError, match="No such file or directory"):
        figure.wait()


def test_cancel_ends_the_process_without_a_file(tmp_path):
    figure = FigureProcess()
    figure.cancel()
    assert figure._proc.returncode is not None  # ended
    assert not list(tmp_path.iterdir())


def test_a_run_that_fails_to_start_ends_its_figure_process(tmp_path, monkeypatch, capsys):
    import nvsense.cli.odmr as odmr_cli
    import nvsense.measure.figures as figures
    from nvsense.cli import main
    from nvsense.instruments import InstrumentError

    started: list[FigureProcess] = []

    class Recorded(FigureProcess):
        def __init__(self) -> None:
            super().__init__()
            started.append(self)

    def no_connection(*args, **kwargs):
        raise InstrumentError("mw", "connect", "switched off")

    monkeypatch.setattr(figures, "FigureProcess", Recorded)
    monkeypatch.setattr(odmr_cli, "run_odmr", no_connection)
    assert main(["odmr", "--sweeps", "1", "--data-dir", str(tmp_path)]) == 1
    assert len(started) == 1 and started[0]._proc.returncode is not None  # ended
    # and drew nothing
    assert not list(tmp_path.rglob("*.png"))


def _record_started(monkeypatch) -> list[FigureProcess]:
    import nvsense.measure.figures as figures

    started: list[FigureProcess] = []

    class Recorded(FigureProcess):
        def __init__(self) -> None:
            super().__init__()
            started.append(self)

    monkeypatch.setattr(figures, "FigureProcess", Recorded)
    return started


def test_the_console_script_starts_the_figure_process_first_and_the_run_uses_it(
        tmp_path, monkeypatch):
    import sys

    from nvsense.cli import main

    started = _record_started(monkeypatch)
    monkeypatch.setattr(sys, "argv", ["nvsense", "odmr", "--sweeps", "1", "--data-dir",
                                      str(tmp_path)])
    assert main() == 0
    assert len(started) == 1  # one process, started before the command's imports, used
    assert started[0]._proc.returncode == 0
    assert len(list(tmp_path.rglob("*.png"))) == 1


@pytest.mark.parametrize("argv", [["odmr", "--sweeps", "0"], ["odmr", "--bogus"],
                                  ["odmr", "--no-plot", "--sweeps", "0"], ["odmr", "--help"],
                                  ["runs", "--json"]])
def test_the_console_script_ends_an_unused_figure_process(tmp_path, monkeypatch, capsys,
                                                          argv):
    import sys

    import nvsense.measure.figures as figures
    from nvsense.cli import main

    started = _record_started(monkeypatch)
    monkeypatch.setenv("NVSENSE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["nvsense", *argv])
    main()
    expected = 1 if argv[0] == "odmr" and not {"--no-plot", "--help"} & set(argv) else 0
    assert len(started) == expected
    assert all(p._proc.returncode is not None for p in started)  # ended
    assert figures.take_early() is None
    assert not list(tmp_path.rglob("*.png"))


def test_in_process_callers_start_no_early_figure_process(tmp_path, monkeypatch):
    from nvsense.cli import main

    started = _record_started(monkeypatch)
    assert main(["odmr", "--sweeps", "0", "--data-dir", str(tmp_path)]) == 2
    assert started == []  # the bad value is found before the run would start one
