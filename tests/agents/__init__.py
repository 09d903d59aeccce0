"""User agent modules the tests run in the real worker (``OMNIVOICE_AGENT=tests.agents.x:build``),
written the way a developer using omnivoice-rtc would write them."""
