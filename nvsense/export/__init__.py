"""Exports of nvsense records to other tools' formats.

- :mod:`.mne`: B(t) records to MNE-Python (FIF), magnetometer channels in tesla and the
  trigger as a stim channel;
- :mod:`.bids`: the same into a BIDS (MEG) dataset with mne-bids.

Each needs an optional extra (``pip install "nvsense[meg]"``) and imports it only when used.
"""
