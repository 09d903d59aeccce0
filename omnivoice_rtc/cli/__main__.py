"""``python -m omnivoice_rtc.cli``: the ``omnivoice-rtc`` command."""

from omnivoice_rtc.cli import run

run()
