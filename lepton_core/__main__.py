"""``python -m lepton_core``: the command line."""

import sys

from lepton_core.cli import main

sys.exit(main())
