"""A simulated sample configured without a seed takes ``$NVSENSE_SIM_SEED``, and so does
everything built on it (the photodiode chain, the camera): a test run is reproducible."""

import numpy as np

from nvsense.instruments.simulated.chain import photodiode_chain
from nvsense.instruments.simulated.sample import SimulatedSample


def _chain_samples(monkeypatch, seed: str | None) -> np.ndarray:
    if seed is None:
        monkeypatch.delenv("NVSENSE_SIM_SEED", raising=False)
    else:
        monkeypatch.setenv("NVSENSE_SIM_SEED", seed)
    sample = SimulatedSample({"photodiode": {"sensors": ["s0", "s1"], "environment": True}})
    sample.laser.on = True  # photons on the photodiodes: shot noise, laser noise
    chain = photodiode_chain(sample)
    block = chain.read(2000)
    return np.stack([block.data[name] for name in sorted(block.data)])


def test_the_photodiode_chain_follows_the_environment_seed(monkeypatch):
    a = _chain_samples(monkeypatch, "5")
    b = _chain_samples(monkeypatch, "5")
    c = _chain_samples(monkeypatch, "6")
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    fresh1 = _chain_samples(monkeypatch, None)
    fresh2 = _chain_samples(monkeypatch, None)
    assert not np.array_equal(fresh1, fresh2)  # no seed anywhere: fresh noise
