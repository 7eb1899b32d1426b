"""``python -m vidgen_lib ...``: see ``vidgen_lib.cli``."""
from vidgen_lib.cli import main

raise SystemExit(main())
