"""DispatchRuleAttributes: an inbound SIP participant completed with its dispatch rule's
attributes.

A dispatch rule's ``attributes`` (``omnivoice.carrier`` in ``sip/<carrier>.json``) reach
the SIP participant a moment after it joined: on a loaded machine the participant read
back after ``participant_joined`` had only livekit-sip's ``sip.*`` attributes, and the
call was taken for the default carrier ``sip`` (found by a full test run). The rule named
by the participant's ``sip.ruleID`` is read once (``ListSIPDispatchRule``, kept for
:data:`RULE_TTL_S`) and its attributes fill in the ones the participant lacks; the
participant's own values always win.
"""

from __future__ import annotations

import logging
from typing import Final

import aiohttp
from livekit import api

from omnivoice_rtc._clock import MONOTONIC, Clock

__all__ = ["RULE_TTL_S", "DispatchRuleAttributes"]

logger = logging.getLogger(__name__)

RULE_TTL_S: Final = 60.0
"""How long (s) a rule's attributes are reused before the rule is read again."""
_MAX_RULES: Final = 256
_RULE_ID: Final = "sip.ruleID"


class DispatchRuleAttributes:
    """Fills in an inbound SIP participant's attributes from its dispatch rule (see the
    module docstring); rules are read through the ``LiveKitAPI`` given to :meth:`complete`."""

    def __init__(self, *, clock: Clock = MONOTONIC) -> None:
        self._clock = clock
        self._rules: dict[str, tuple[float, dict[str, str]]] = {}  # id -> (expiry, attrs)

    async def complete(
        self, participant: api.ParticipantInfo, lk: api.LiveKitAPI
    ) -> api.ParticipantInfo:
        """``participant``, or a copy with the rule's attributes it lacks added. A rule that
        cannot be read leaves the participant as it is (logged)."""
        rule_id = participant.attributes.get(_RULE_ID, "")
        if not rule_id:
            return participant
        rule = await self._rule(rule_id, lk)
        missing = {k: v for k, v in rule.items() if k not in participant.attributes}
        if not missing:
            return participant
        completed = api.ParticipantInfo()
        completed.CopyFrom(participant)
        completed.attributes.update(missing)
        return completed

    async def _rule(self, rule_id: str, lk: api.LiveKitAPI) -> dict[str, str]:
        now = self._clock()
        cached = self._rules.get(rule_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            listed = await lk.sip.list_sip_dispatch_rule(
                api.ListSIPDispatchRuleRequest(dispatch_rule_ids=[rule_id])
            )
        except (api.TwirpError, aiohttp.ClientError, TimeoutError) as exc:
            logger.warning(
                "sip dispatch rule not read", extra={"rule_id": rule_id, "error": repr(exc)}
            )
            return {}
        attributes: dict[str, str] = {}
        for item in listed.items:  # a server without the id filter lists every rule
            if item.sip_dispatch_rule_id == rule_id:
                attributes = dict(item.attributes)
        if len(self._rules) >= _MAX_RULES:
            self._rules = {k: v for k, v in self._rules.items() if v[0] > now}
        self._rules[rule_id] = (now + RULE_TTL_S, attributes)
        return attributes
