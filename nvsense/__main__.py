"""``python -m nvsense`` runs the ``nvsense`` command."""

import sys

from .cli import main

sys.exit(main())
