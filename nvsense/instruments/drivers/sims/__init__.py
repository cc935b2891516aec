"""pyvisa-sim models of the instruments nvsense drives (package data, see ``..sim_path``)."""
