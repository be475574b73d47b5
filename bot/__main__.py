"""``python -m bot`` runs the ``qabot`` command line."""
import sys

from bot.cli import main

sys.exit(main())
