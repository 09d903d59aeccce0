"""Limits that keep a public server safe, over the shared state store.

:mod:`.client_address` (who a request comes from, honouring only trusted proxies) and
:mod:`.outbound` (the toll-fraud guard every ``make_call`` route goes through). The
settings are :mod:`omnivoice_rtc.settings.limits`; docs/reliability.md ("Security") has
the threat model.
"""

from __future__ import annotations

from omnivoice_rtc.limits.client_address import address_key, client_address
from omnivoice_rtc.limits.outbound import OutboundGuard, OutboundLease

__all__ = ["OutboundGuard", "OutboundLease", "address_key", "client_address"]
