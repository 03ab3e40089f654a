"""``python -m neuronet.cli`` runs the command line, as ``python -m neuronet`` does."""

import sys

from . import main

sys.exit(main())
