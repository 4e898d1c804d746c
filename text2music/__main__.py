import sys

from text2music.cli import main

sys.exit(main())
