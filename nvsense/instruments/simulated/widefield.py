"""A simulated widefield bench: sample, microwave source, laser and camera, connected.

::

    bench = widefield_bench(sensor=(128, 128), field_map="wire", seed=1)
    bench.laser.on = True
    bench.camera.exposure = 5e-3
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .camera import SimulatedCamera
from .laser import SimulatedLaser
from .microwave import SimulatedMicrowave
from .sample import SimulatedSample

__all__ = ["WidefieldBench", "widefield_bench"]

#: A widefield sample: one NV orientation with a 2 mT bias along it (lines near 2814 and
#: 2926 MHz), 6 MHz lines of 3 % contrast, as in a shallow NV layer under a bias magnet.
WIDEFIELD_SAMPLE: dict[str, Any] = {
    "axes": [0],
    "field": [2e-3 / np.sqrt(3)] * 3,
    "linewidth": "6 MHz",
    "contrast": 0.03,
}


@dataclass
class WidefieldBench:
    """The connected instruments of a simulated widefield bench."""

    sample: SimulatedSample
    mw: SimulatedMicrowave
    laser: SimulatedLaser
    camera: SimulatedCamera

    def close(self) -> None:
        """Leave everything safe and disconnect."""
        for inst in (self.camera, self.mw, self.laser):
            inst.safe()
            inst.close()


def widefield_bench(sample: Mapping[str, Any] | None = None, *, seed: int | None = 0,
                    pace: str = "fast", **camera: Any) -> WidefieldBench:
    """Build and connect a simulated widefield bench.

    Parameters
    ----------
    sample
        The ``sample:`` settings (bench-file keys); default :data:`WIDEFIELD_SAMPLE`.
    seed
        Seed of the sample and the camera.
    pace
        ``"fast"`` or ``"realtime"``.
    **camera
        Options of :class:`~.camera.SimulatedCamera` (``sensor``, ``field_map``,
        ``drift`` ...).
    """
    config = dict(WIDEFIELD_SAMPLE if sample is None else sample)
    config.setdefault("seed", seed)
    s = SimulatedSample(config, pace=pace)  # type: ignore[arg-type]
    mw, laser = SimulatedMicrowave("mw", s), SimulatedLaser("laser", s)
    cam = SimulatedCamera("camera", s, **camera)
    for inst in (mw, laser, cam):
        inst.connect()
    return WidefieldBench(s, mw, laser, cam)
