"""Static figures of measurement results (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FigureProcess", "cancel_early", "draw_spectrum_figure", "save_spectrum_figure",
           "spectrum_figure_data", "start_early", "take_early"]


#: Points of the fitted curve drawn (the figure is 880 pixels wide).
FINE_POINTS = 4000


def save_spectrum_figure(path: str | Path, frequencies: np.ndarray, average: np.ndarray,
                         fit: Any, *, title: str = "", sweeps: int | None = None) -> Path:
    """Save the averaged ODMR spectrum with its fit (and residuals) as a PNG.

    Parameters
    ----------
    path
        The PNG to write.
    frequencies, average
        The sweep (Hz) and its running average.
    fit
        A :class:`nvsense.measure.SweepAnalysis` of ``average`` (or None: data only).
    """
    return draw_spectrum_figure(path, spectrum_figure_data(frequencies, average, fit,
                                                           title=title, sweeps=sweeps))


def spectrum_figure_data(frequencies: np.ndarray, average: np.ndarray, fit: Any, *,
                         title: str = "", sweeps: int | None = None) -> dict[str, Any]:
    """What :func:`draw_spectrum_figure` draws, as arrays and strings (the fit's curve
    evaluated here): it can be drawn in another process (:class:`FigureProcess`)."""
    f = np.asarray(frequencies, dtype=float)
    y = np.asarray(average, dtype=float)
    data: dict[str, Any] = {"frequencies": f, "average": y, "title": title, "sweeps": sweeps,
                            "fit": None}
    if fit is not None:
        # fine enough for the dips, a few points per pixel of the figure at most
        fine = np.linspace(f[0], f[-1], min(20 * len(f), FINE_POINTS))
        data["fit"] = {"fine": fine, "curve": np.asarray(fit.curve(fine), dtype=float),
                       "residual": y - np.asarray(fit.best_fit, dtype=float),
                       "centers": np.asarray(fit.centers, dtype=float),
                       "label": "fit" + ("" if fit.success else f" ({fit.message})"),
                       "text": _field_text(fit)}
    return data


def draw_spectrum_figure(path: str | Path | Any, data: dict[str, Any]) -> Any:
    """Draw :func:`spectrum_figure_data`'s figure with matplotlib and save it as a PNG into
    ``path`` (a file name, or a binary file object); returns ``path``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    path = Path(path) if isinstance(path, str | Path) else path
    # fixed margins: matplotlib's constrained layout took a third of the drawing (≈ 0.1 s),
    # which the command waits for
    fig = Figure(figsize=(8, 5.5))
    fig.subplots_adjust(left=0.105, right=0.975, top=0.89, bottom=0.09, hspace=0.06)
    ax, res = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    f_mhz = data["frequencies"] / 1e6
    sweeps = data["sweeps"]
    title = data["title"]
    label = f"average of {sweeps} sweep{'s' if sweeps != 1 else ''}" if sweeps else "data"
    ax.plot(f_mhz, data["average"], ".", ms=3, color="0.35", label=label)
    fit = data["fit"]
    if fit is not None:
        ax.plot(fit["fine"] / 1e6, fit["curve"], "-", lw=1.0, color="C3", label=fit["label"])
        res.plot(f_mhz, fit["residual"], ".", ms=2, color="C0")
        res.axhline(0, color="0.5", lw=0.8)
        for c in fit["centers"]:
            ax.axvline(c / 1e6, color="C3", lw=0.5, alpha=0.4)
        if fit["text"]:
            title = f"{title}\n{fit['text']}" if title else fit["text"]
    ax.set_ylabel("PL (counts per point)")
    res.set_ylabel("residual")
    res.set_xlabel("microwave frequency (MHz)")
    ax.legend(loc="lower right", fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    fig.savefig(path, dpi=110, format="png")
    return path


class FigureProcess:
    """A process that draws one figure: started when a run starts, it imports matplotlib
    (about a third of a second) on the other core while the run measures, then draws what
    :meth:`draw` sends it.  :meth:`wait` returns when the PNG is written.

    Used by ``nvsense odmr``; in-process callers use :func:`save_spectrum_figure`.
    """

    def __init__(self) -> None:
        import subprocess
        import sys

        self._proc = subprocess.Popen([sys.executable, "-m", __name__],
                                      stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
        self._path: Path | None = None

    def draw(self, path: str | Path, data: dict[str, Any]) -> None:
        """Send the figure (:func:`spectrum_figure_data`) to be drawn into ``path``."""
        import pickle

        assert self._proc.stdin is not None, "one figure per process"
        self._path = Path(path)
        stdin, self._proc.stdin = self._proc.stdin, None  # (communicate() must not flush it)
        try:
            pickle.dump((str(path), data), stdin, protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            stdin.close()

    def wait(self, timeout: float = 120.0) -> Path:
        """The PNG, once written.

        Raises
        ------
        RuntimeError
            The figure could not be drawn (the process's error), or took longer than
            ``timeout`` seconds.
        """
        import subprocess

        try:
            _, err = self._proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.cancel()
            raise RuntimeError(f"drawing the figure took more than {timeout:g} s") from None
        if self._proc.returncode != 0 or self._path is None:
            lines = err.decode(errors="replace").strip().splitlines()
            raise RuntimeError(lines[-1] if lines else
                               f"the figure process ended with code {self._proc.returncode}")
        return self._path

    def cancel(self) -> None:
        """Draw nothing: end the process now (it may still be importing matplotlib; it
        writes nothing before it has a figure to draw)."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        if self._proc.stderr is not None:
            self._proc.stderr.close()


_early: FigureProcess | None = None


def start_early() -> None:
    """Start the figure process now, before the command's own imports (the console script
    does this for ``nvsense odmr``): matplotlib's import then overlaps them too.  The command
    takes it with :func:`take_early`; :func:`cancel_early` ends it if nothing took it."""
    global _early
    if _early is None:
        try:
            _early = FigureProcess()
        except OSError:  # no process: the command draws in its own process
            _early = None


def take_early() -> FigureProcess | None:
    """The process :func:`start_early` started (now the caller's), or None."""
    global _early
    process, _early = _early, None
    return process


def cancel_early() -> None:
    """End the process :func:`start_early` started, if no command took it."""
    process = take_early()
    if process is not None:
        process.cancel()


def _serve() -> int:
    """The figure process (:class:`FigureProcess`): import matplotlib, then draw the one
    figure read from stdin (nothing, if stdin ends first)."""
    import pickle
    import signal
    import sys

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the run; it ends us
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.backends.backend_agg  # (importing now, while the run measures)

    try:
        path, data = pickle.load(sys.stdin.buffer)
    except EOFError:  # the run ended without a figure
        return 0
    try:
        draw_spectrum_figure(path, data)
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def _field_text(fit: Any) -> str:
    if fit.kind == "vector" and np.all(np.isfinite(fit.field)):
        b = ", ".join(f"{v * 1e3:.4f}" for v in fit.field)
        return f"B = ({b}) mT   D = {fit.D / 1e6:.3f} MHz"
    if fit.kind == "parallel" and np.isfinite(fit.field_parallel):
        return f"B∥ = {fit.field_parallel * 1e3:.4f} mT   D = {fit.D / 1e6:.3f} MHz"
    return ""


if __name__ == "__main__":  # pragma: no cover - run by FigureProcess
    import sys

    sys.exit(_serve())
