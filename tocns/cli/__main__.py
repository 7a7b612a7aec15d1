"""Allow `python -m tocns.cli`."""

import sys

from tocns.cli import main

sys.exit(main())
