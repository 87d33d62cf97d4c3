import sys

from resgen.cli import main

sys.exit(main())
