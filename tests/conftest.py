"""Shared test set-up: Qt runs headless, matplotlib draws to files, and nothing a test checks
depends on chance.

- Every simulated sample configured without a seed draws its shot noise from
  ``$NVSENSE_SIM_SEED`` (default here: 1), also in the subprocesses tests start.  Run the suite
  with another seed (``NVSENSE_SIM_SEED=2 make test``) to check that no test is tuned to one
  noise realisation.
- The user's configuration is never touched: ``XDG_CONFIG_HOME`` points to a folder of the
  run (the window's remembered settings, ``~/.config/nvsense/gui.conf``, live there), also
  for the subprocesses tests start, so a test reads no settings a developer's session or an
  earlier run left, and the suite leaves none behind.
- Hypothesis runs derandomized (its examples derive from each test's name) with no example
  database, so CI sees the same examples every time; ``--hypothesis-profile=random
  --hypothesis-seed=N`` draws other examples.
"""

import os
import tempfile

from hypothesis import HealthCheck, settings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("NVSENSE_SIM_SEED", "1")
# one folder per test process (xdist workers each import this file), removed at exit
_CONFIG_HOME = tempfile.TemporaryDirectory(prefix="nvsense-test-config-")
os.environ["XDG_CONFIG_HOME"] = _CONFIG_HOME.name

settings.register_profile("deterministic", derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("random", derandomize=False, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("deterministic")
