"""`python -m service.cli` runs the `bnlab` command line."""

import sys

from . import main

sys.exit(main())
