import sys

from offhours.cli import main

sys.exit(main())
