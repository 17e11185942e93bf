"""`python -m pole_graph` is the `pole-graph` command."""

import sys

from .cli import main

sys.exit(main())
