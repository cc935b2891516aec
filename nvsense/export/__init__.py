"""Exports of nvsense runs and records to other tools' formats and data platforms.

- :mod:`.nexus`: runs to NeXus/HDF5 (an NXentry per run), read back with ``read_nexus``;
- :mod:`.rocrate`: runs, their layout, bench, campaign journal and software to an RO-Crate;
- :mod:`.rde`: runs to the dataset folder of NIMS's research data express, with rdetoolkit;
- :mod:`.mne`: B(t) records to MNE-Python (FIF), magnetometer channels in tesla and the
  trigger as a stim channel; :mod:`.mne_run` does it for a tracking run file;
- :mod:`.bids`: the same into a BIDS (MEG) dataset with mne-bids;
- :mod:`.runs`: resolving ``RUN`` arguments (run ids or files) and what every export reads.

``nvsense export nexus|rocrate|rde|mne`` (:mod:`nvsense.cli.export`) runs them.  Each needs
an optional extra (``pip install "nvsense[export]"``, ``"nvsense[meg]"``) and imports it only
when used.
"""
