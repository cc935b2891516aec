"""Instrument drivers: the real microwave sources, lasers and coil supplies, and the NI DAQ.

One module per instrument, each citing the programming manual its commands come from:

========  =================  ===========================================================
module    class              instrument
========  =================  ===========================================================
sg384     :class:`SG384`     Stanford Research Systems SG382/SG384/SG386 (SG39x)
smb100a   :class:`SMB100A`   Rohde & Schwarz SMB100A
n5181b    :class:`N5181B`    Keysight MXG N5181B / N5182B / N5183B
synthhd   :class:`SynthHD`   Windfreak SynthHD / SynthHD PRO (USB serial)
obis      :class:`OBIS`      Coherent OBIS laser
cobolt    :class:`Cobolt`    Cobolt 06-01 / 04-01 series lasers
dp800     :class:`DP800`     Rigol DP800 power supply driving a bias coil
nidaq     (see the module)   National Instruments DAQ counters / analog input / gate
========  =================  ===========================================================

The VISA drivers share :mod:`.visa_base` (connection, terminations, one error type,
read-back-checked settings); :mod:`.testing` checks a driver's exact bytes without hardware.
Every VISA driver ships a pyvisa-sim model in ``sims/<module>.yaml``: :func:`sim_library`
gives the ``visa_library`` string that runs a driver against it.

Modules are imported on demand (``nvsense.instruments.registry``) so that a missing vendor
library only affects the benches that need it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["SIM_ADDRESSES", "sim_library", "sim_path"]

#: The resource address each shipped pyvisa-sim model answers on.
SIM_ADDRESSES: dict[str, str] = {
    "sg384": "TCPIP0::localhost::5025::SOCKET",
    "smb100a": "TCPIP0::localhost::inst0::INSTR",
    "n5181b": "TCPIP0::localhost::inst0::INSTR",
    "synthhd": "ASRL1::INSTR",
    "obis": "ASRL2::INSTR",
    "cobolt": "ASRL3::INSTR",
    "dp800": "TCPIP0::localhost::inst0::INSTR",
    "sr860": "TCPIP0::localhost::inst0::INSTR",
}


def sim_path(driver: str) -> Path:
    """Path of the pyvisa-sim model shipped for ``driver`` (e.g. ``"sg384"``).

    Raises
    ------
    KeyError
        If no model is shipped for that driver; the message lists those that are.
    """
    if driver not in SIM_ADDRESSES:
        raise KeyError(f"no pyvisa-sim model for {driver!r}; models exist for "
                       f"{', '.join(SIM_ADDRESSES)}")
    return Path(str(resources.files(__name__) / "sims" / f"{driver}.yaml"))


def sim_library(driver: str, path: str | Path | None = None) -> str:
    """The ``visa_library`` value that runs ``driver`` against its pyvisa-sim model.

    pyvisa-sim keeps one state per model file in a process; pass a copy's ``path`` to start
    from the model's defaults (tests do).
    """
    return f"{Path(path) if path is not None else sim_path(driver)}@sim"
