"""nvsense: NV-centre quantum sensing toolkit."""

__version__ = "0.1.0"
