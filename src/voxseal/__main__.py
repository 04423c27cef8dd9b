import sys

from voxseal.cli import main

sys.exit(main())
