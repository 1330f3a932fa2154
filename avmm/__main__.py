"""``python -m avmm``: the ``avmm`` command."""

import sys

from avmm.cli.main import main

sys.exit(main())
