"""``python -m avmm.cli``."""

import sys

from avmm.cli.main import main

sys.exit(main())
