"""Runnable example agents for omnivoice-rtc (each directory has a README).

Run one from the repository root, e.g.::

    omnivoice-rtc worker dev --agent examples.receptionist:build
"""
