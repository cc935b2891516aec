"""Image registration for widefield drift correction: how far the sample moved between sweeps.

Over a long widefield run the sample drifts under the camera (thermal expansion, stage
creep); averaging sweeps taken at different positions blurs the field map.  Each sweep's
mean PL image is compared with a reference image (the first sweep's) by phase correlation
(Kuglin & Hines 1975; here without whitening by default, see :func:`register`) with
sub-pixel refinement by a matrix-multiply DFT of the upsampled cross-power spectrum around
the peak (Guizar-Sicairos, Thurman & Fienup, Opt. Lett. 33, 156, 2008).  The laser spot and
the vignetting do not move with the sample, so the images are first flattened (divided by a
heavily smoothed copy of themselves) and windowed: what is left is the sample's own texture,
which moves.

Convention: a shift ``(dy, dx)`` means the features of ``moving`` sit ``dy`` rows and ``dx``
columns further than in ``reference``: ``moving(p) ≈ reference(p − shift)``.
:func:`shift_frames` undoes it: ``corrected(p) = moving(p + shift)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

__all__ = [
    "SHIFT_METHODS",
    "DriftTracker",
    "Registration",
    "register",
    "shift_frames",
]

#: How :func:`shift_frames` moves frames.
SHIFT_METHODS = ("integer", "fourier", "linear")
#: A correlation peak this many robust standard deviations above the rest of the surface is
#: trusted; below it the shift is reported but flagged unreliable.
MIN_CONFIDENCE = 8.0


@dataclass(frozen=True)
class Registration:
    """The shift of one image against the reference.

    Attributes
    ----------
    shift
        (dy, dx) in pixels (see the module's convention).
    confidence
        Height of the correlation peak above the rest of the surface, in robust standard
        deviations; below :data:`MIN_CONFIDENCE` the image shares too little structure with
        the reference (defocus, laser off, a different field of view).
    """

    shift: tuple[float, float]
    confidence: float

    @property
    def reliable(self) -> bool:
        return self.confidence >= MIN_CONFIDENCE


def register(reference: ArrayLike, moving: ArrayLike, *, upsample: int = 100,
             flatten_sigma: float | None = 8.0, band: float = 0.25, whiten: float = 0.0,
             iterations: int = 3) -> Registration:
    """Shift of ``moving`` against ``reference``, to 1/``upsample`` pixel.

    The cross-power spectrum of the two flattened, windowed images is divided by its
    magnitude to the power ``whiten`` (1: classic phase correlation; 0, the default: plain
    cross-correlation, the matched filter for shot noise: measured on simulated sCMOS frames,
    whitening let the noise-dominated high frequencies pull the peak by 0.1–0.4 px where
    cross-correlation stayed within 0.01 px), weighted down above ``band``, and its peak
    located on the integer grid, then refined by an upsampled DFT around it.  The window and
    the flattening do not move with the sample and pull the estimate towards zero; so the
    moving image is shifted back by the estimate (exactly, in Fourier space) and registered
    again, ``iterations`` times in all.

    Parameters
    ----------
    reference, moving
        2-D images of the same shape (mean PL of a sweep, frames, ...).
    upsample
        Sub-pixel resolution of the refinement: 100 gives 0.01 px steps.
    flatten_sigma
        Width (px) of the smoothing each image is divided by to remove the illumination and
        vignetting, which do not move with the sample (``None``: no flattening).
    band
        Spatial frequencies above this (cycles/px) are weighted down with a Gaussian: they
        carry shot noise, not the sample's texture blurred by the optics.
    whiten
        0 (cross-correlation) to 1 (phase correlation).
    iterations
        Registrations in all (1: no refinement of the residual).

    Raises
    ------
    ValueError
        For images of different shapes, smaller than 8×8, or not finite.
    """
    ref = _flatten(reference, flatten_sigma)
    mov = _flatten(moving, flatten_sigma)
    if ref.shape != mov.shape:
        raise ValueError(f"images of different shapes {ref.shape} and {mov.shape} cannot be "
                         "registered; crop them to the same region")
    if upsample < 1 or iterations < 1:
        raise ValueError(f"upsample and iterations must be ≥ 1, not {upsample}, {iterations}")
    if not 0 <= whiten <= 1:
        raise ValueError(f"whiten must be between 0 and 1, not {whiten}")
    window = _window(*ref.shape)
    ref_spectrum = np.conj(np.fft.fft2(ref * window))
    moving_spectrum = np.fft.fft2(mov)
    total = np.zeros(2)
    confidence = math.inf
    for i in range(iterations):
        shifted = mov if i == 0 else _fourier_shift(moving_spectrum, total)
        step, peak_confidence = _register_once(ref_spectrum, shifted * window, upsample,
                                               band, whiten)
        if i == 0:
            confidence = peak_confidence
        total += step
        if abs(step[0]) < 0.5 / upsample and abs(step[1]) < 0.5 / upsample:
            break
    return Registration((float(total[0]), float(total[1])), confidence)


def _register_once(ref_spectrum: NDArray[np.complex128], moving: NDArray[np.float64],
                   upsample: int, band: float,
                   whiten: float) -> tuple[NDArray[np.float64], float]:
    ny, nx = moving.shape
    cross = np.fft.fft2(moving) * ref_spectrum
    ky = np.fft.fftfreq(ny)[:, None]
    kx = np.fft.fftfreq(nx)[None, :]
    spectrum = cross * np.exp(-(ky**2 + kx**2) / (2 * band**2))
    if whiten > 0:
        magnitude = np.abs(cross)
        spectrum /= np.maximum(magnitude, 1e-12 * magnitude.max()) ** whiten
    surface = np.fft.ifft2(spectrum).real
    peak = np.unravel_index(int(np.argmax(surface)), surface.shape)
    confidence = _confidence(surface, peak)
    coarse = np.array([_signed(int(peak[0]), ny), _signed(int(peak[1]), nx)], dtype=float)
    if upsample == 1:
        return coarse, confidence
    # refine in a 1.5-pixel box around the coarse peak on a grid of 1/upsample pixel
    size = math.ceil(1.5 * upsample)
    offsets = (np.arange(size) - size // 2) / upsample
    local = _upsampled_dft(spectrum, coarse[0] + offsets, coarse[1] + offsets)
    i, j = np.unravel_index(int(np.argmax(local.real)), local.shape)
    return coarse + np.array([offsets[i], offsets[j]]), confidence


def _fourier_shift(spectrum: NDArray[np.complex128],
                   shift: NDArray[np.float64]) -> NDArray[np.float64]:
    """``image(p + shift)`` from the image's 2-D spectrum (periodic)."""
    ny, nx = spectrum.shape
    ky = np.fft.fftfreq(ny)[:, None]
    kx = np.fft.fftfreq(nx)[None, :]
    return np.fft.ifft2(spectrum * np.exp(2j * np.pi * (ky * shift[0] + kx * shift[1]))).real


def shift_frames(frames: ArrayLike, shift: tuple[float, float], *, method: str = "integer",
                 axes: tuple[int, int] = (-2, -1)) -> tuple[NDArray[np.float32],
                                                            NDArray[np.bool_]]:
    """Undo a drift: ``corrected(p) = frames(p + shift)`` along the two image ``axes``.

    Parameters
    ----------
    frames
        An image or a stack of images (any layout; ``axes`` name the rows and columns).
    shift
        (dy, dx) in pixels, as :func:`register` reports it.
    method
        ``"integer"``: the shift rounded to whole pixels, a pure re-indexing (noise stays
        Poisson and uncorrelated; the residual is at most half a pixel).  ``"fourier"``: an
        exact sub-pixel shift of band-limited images (noise keeps its variance; edges ring
        slightly).  ``"linear"``: bilinear interpolation (smooths noise and detail).
    axes
        The (row, column) axes of ``frames``.

    Returns
    -------
    (corrected, valid)
        ``corrected`` as float32 (0 where invalid); ``valid`` over (rows, columns): pixels
        whose source lay inside the image (and, for "fourier", not within two pixels of
        where the periodic shift wraps around).
    """
    if method not in SHIFT_METHODS:
        raise ValueError(f"method must be one of {', '.join(SHIFT_METHODS)}, not {method!r}")
    dy, dx = (float(s) for s in shift)
    if not (math.isfinite(dy) and math.isfinite(dx)):
        raise ValueError(f"shift must be two finite numbers of pixels, not {shift!r}")
    data = np.moveaxis(np.asarray(frames, dtype=np.float32), axes, (0, 1))
    ny, nx = data.shape[:2]
    if method == "integer":
        sy, sx = round(dy), round(dx)
        out = np.zeros_like(data)
        src_y, dst_y = _overlap(ny, sy)
        src_x, dst_x = _overlap(nx, sx)
        out[dst_y, dst_x] = data[src_y, src_x]
        valid = np.zeros((ny, nx), bool)
        valid[dst_y, dst_x] = True
    elif method == "fourier":
        ky = np.fft.fftfreq(ny)[:, None]
        kx = np.fft.rfftfreq(nx)[None, :]
        phase = np.exp(2j * np.pi * (ky * dy + kx * dx)).astype(np.complex64)
        phase = phase.reshape(phase.shape + (1,) * (data.ndim - 2))
        spectrum = np.fft.rfft2(data, axes=(0, 1)) * phase
        out = np.fft.irfft2(spectrum, s=(ny, nx), axes=(0, 1)).astype(np.float32)
        valid = _inside(ny, nx, dy, dx, margin=2)
        out[~valid] = 0.0
    else:
        yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float32)
        coords = np.stack([yy + np.float32(dy), xx + np.float32(dx)])
        flat = data.reshape(ny, nx, -1)
        out = np.empty_like(flat)
        for k in range(flat.shape[-1]):
            out[..., k] = ndimage.map_coordinates(flat[..., k], coords, order=1,
                                                  mode="constant", cval=0.0)
        out = out.reshape(data.shape)
        valid = _inside(ny, nx, dy, dx, margin=0)
        out[~valid] = 0.0
    return np.moveaxis(out, (0, 1), axes), valid


class DriftTracker:
    """Registers each sweep's image against the first one and keeps the shifts.

    Parameters
    ----------
    upsample, flatten_sigma, band
        As for :func:`register`.

    Examples
    --------
    >>> tracker = DriftTracker()                              # doctest: +SKIP
    >>> for sweep in sweeps:                                  # doctest: +SKIP
    ...     reg = tracker.update(sweep.signal.mean(axis=0))   # (dy, dx) against sweep 0
    """

    def __init__(self, *, upsample: int = 100, flatten_sigma: float | None = 8.0,
                 band: float = 0.25) -> None:
        self.upsample = upsample
        self.flatten_sigma = flatten_sigma
        self.band = band
        self.reference: NDArray[np.float64] | None = None
        self.shifts: list[tuple[float, float]] = []
        self.confidences: list[float] = []

    def update(self, image: ArrayLike) -> Registration:
        """The shift of ``image`` against the reference (the first image, shift (0, 0))."""
        image = np.asarray(image, dtype=float)
        if self.reference is None:
            _flatten(image, self.flatten_sigma)  # validates
            self.reference = image.copy()
            result = Registration((0.0, 0.0), math.inf)
        else:
            result = register(self.reference, image, upsample=self.upsample,
                              flatten_sigma=self.flatten_sigma, band=self.band)
        self.shifts.append(result.shift)
        self.confidences.append(result.confidence)
        return result

    @property
    def max_drift(self) -> float:
        """Largest |shift| so far, pixels."""
        if not self.shifts:
            return 0.0
        return float(max(math.hypot(dy, dx) for dy, dx in self.shifts))


# --- helpers -------------------------------------------------------------------------------


def _flatten(image: ArrayLike, flatten_sigma: float | None) -> NDArray[np.float64]:
    img = np.asarray(image, dtype=float)
    if img.ndim != 2 or min(img.shape) < 8:
        raise ValueError(f"registration needs 2-D images of at least 8×8 pixels, not shape "
                         f"{img.shape}")
    if not np.all(np.isfinite(img)):
        raise ValueError("the image holds NaN or infinite pixels; fill or crop them first")
    if flatten_sigma is not None:
        smooth = ndimage.gaussian_filter(img, flatten_sigma, mode="nearest")
        img = img / np.where(np.abs(smooth) > 0, smooth, 1.0) - 1.0
    else:
        img = img - img.mean()
    return img


def _window(ny: int, nx: int) -> NDArray[np.float64]:
    """A Tukey window (flat middle, cosine edges an eighth of the size wide)."""
    return np.outer(_tukey(ny), _tukey(nx))


def _tukey(n: int, alpha: float = 0.25) -> NDArray[np.float64]:
    x = np.linspace(0.0, 1.0, n)
    w = np.ones(n)
    edge = alpha / 2
    lo, hi = x < edge, x > 1 - edge
    w[lo] = 0.5 * (1 + np.cos(np.pi * (x[lo] / edge - 1)))
    w[hi] = 0.5 * (1 + np.cos(np.pi * ((x[hi] - 1) / edge + 1)))
    return w


def _signed(index: int, n: int) -> int:
    return index - n if index > n // 2 else index


def _confidence(surface: NDArray[np.float64], peak: tuple[np.intp, ...]) -> float:
    """Peak height over the rest of the surface, in robust standard deviations."""
    ny, nx = surface.shape
    mask = np.ones(surface.shape, bool)
    py, px = int(peak[0]), int(peak[1])
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            mask[(py + dy) % ny, (px + dx) % nx] = False
    rest = surface[mask]
    med = np.median(rest)
    sigma = 1.4826 * np.median(np.abs(rest - med))
    return float((surface[py, px] - med) / sigma) if sigma > 0 else math.inf


def _upsampled_dft(spectrum: NDArray[np.complex128], ys: NDArray[np.float64],
                   xs: NDArray[np.float64]) -> NDArray[np.complex128]:
    """The inverse DFT of ``spectrum`` at arbitrary positions: Σ_k S(k) e^{2πi k·r}."""
    ny, nx = spectrum.shape
    ky = np.fft.fftfreq(ny)
    kx = np.fft.fftfreq(nx)
    ey = np.exp(2j * np.pi * np.outer(ys, ky))  # (m, ny)
    ex = np.exp(2j * np.pi * np.outer(kx, xs))  # (nx, m)
    return ey @ spectrum @ ex / (ny * nx)


def _overlap(n: int, s: int) -> tuple[slice, slice]:
    """(source, destination) slices of ``out[i] = data[i + s]`` inside 0..n."""
    if s >= 0:
        return slice(min(s, n), n), slice(0, max(n - s, 0))
    return slice(0, max(n + s, 0)), slice(min(-s, n), n)


def _inside(ny: int, nx: int, dy: float, dx: float, margin: int) -> NDArray[np.bool_]:
    yy = np.arange(ny)[:, None] + dy
    xx = np.arange(nx)[None, :] + dx
    return ((yy >= margin) & (yy <= ny - 1 - margin) & (xx >= margin) & (xx <= nx - 1 - margin))
