"""``python -m omnivoice_rtc.cli``: the ``omnivoice-rtc`` command."""

import sys

from omnivoice_rtc.cli import main

sys.exit(main())
