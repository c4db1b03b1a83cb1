"""The proposal the bot made and awaits a yes or no for, sealed by the server."""
from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Optional

from careline.shared import Signer

PROPOSAL_MAX_AGE_S = 30 * 60  # a "yes" later than this answers nothing: the bot proposes again
AMOUNT = r"[0-9]{1,9}\.[0-9]{2}"  # an offered amount as the proposal records it: "28.95"


@dataclass(frozen=True)
class Proposal:
    """What the bot offered to do and awaits a yes for. `id` makes the yes idempotent.

    `amount` records what the offer said (a ticket shows a declined offer); it never decides the
    payout, which `ClaimService` decides again from the store on a yes. Proposals sealed before it
    existed have none.
    """

    kind: str
    order_number: str
    reason: Optional[str] = None
    charge_id: Optional[int] = None
    detail: Optional[str] = None
    id: str = ""
    amount: Optional[str] = None  # what was offered, "28.95" (for the ticket; the payout is decided again on a yes)

    @staticmethod
    def new(kind: str, order_number: str, **extra: Any) -> Proposal:
        return Proposal(kind=kind, order_number=order_number, id=uuid.uuid4().hex, **extra)

    def seal(self, signer: Signer, conversation_id: str, now: datetime) -> str:
        """The slot value: this proposal signed by the server and bound to one conversation."""
        return signer.sign({"p": asdict(self), "c": conversation_id, "iat": int(now.timestamp())})

    @staticmethod
    def unseal(value: object, signer: Signer, conversation_id: str, now: datetime,
               max_age_s: int = PROPOSAL_MAX_AGE_S) -> Optional[Proposal]:
        """The proposal this server issued to this conversation, if still fresh; None for anything else.

        A forged, altered, foreign or stale slot is honoured as nothing at all.
        """
        sealed = signer.verify(value)
        if sealed is None or sealed.get("c") != conversation_id:
            return None
        try:
            age = int(now.timestamp()) - int(sealed["iat"])
        except (KeyError, TypeError, ValueError):
            return None
        if not -60 <= age <= max_age_s:
            return None
        return Proposal.from_dict(sealed.get("p"))

    @staticmethod
    def from_dict(data: object) -> Optional[Proposal]:
        """A well-formed proposal from its fields, or None."""
        if not isinstance(data, dict):
            return None
        try:
            proposal = Proposal(
                kind=str(data["kind"]), order_number=str(data["order_number"]),
                reason=data.get("reason"), charge_id=data.get("charge_id"), detail=data.get("detail"),
                id=str(data["id"]), amount=data.get("amount"),
            )
        except (KeyError, TypeError):
            return None
        if not re.fullmatch(r"[0-9a-f]{32}", proposal.id):
            return None
        if proposal.amount is not None and not (isinstance(proposal.amount, str)
                                                and re.fullmatch(AMOUNT, proposal.amount)):
            return None
        if proposal.charge_id is not None and not isinstance(proposal.charge_id, int):
            return None
        return proposal
