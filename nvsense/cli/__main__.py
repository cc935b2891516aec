"""``python -m nvsense.cli``."""

import sys

from . import main

sys.exit(main())
