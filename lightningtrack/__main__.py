import sys

from lightningtrack.cli import main

sys.exit(main())
