"""What applying transactions did: the result data of the jobs that read the chain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    """Records changed, jobs enqueued, and prints of our contracts that were not understood."""

    proposals: list[int] = field(default_factory=list)
    votes: list[int] = field(default_factory=list)
    vetoes: list[int] = field(default_factory=list)
    concluded: list[int] = field(default_factory=list)
    parked: list[str] = field(default_factory=list)
    daos_deployed: list[int] = field(default_factory=list)
    accounts_deployed: list[int] = field(default_factory=list)
    failed_txs: list[str] = field(default_factory=list)
    account_events: int = 0
    # Notifications of a DAO's voting extension read, whether or not they changed anything.
    events: int = 0
    prints_not_understood: list[str] = field(default_factory=list)
    enqueued: int = 0

    def add(self, other: Outcome) -> None:
        """Fold another outcome (a later block's) into this one."""
        for key, value in other.__dict__.items():
            if isinstance(value, list):
                getattr(self, key).extend(value)
            else:
                setattr(self, key, getattr(self, key) + value)

    def as_data(self) -> dict[str, Any]:
        data = {key: value for key, value in self.__dict__.items() if value}
        if self.prints_not_understood:
            data["not_understood"] = len(self.prints_not_understood)
        return data

    def summary(self) -> str:
        """What changed; else whether events of ours were read (already applied) or none were."""
        parts = [f"{len(v)} {k.replace('_', ' ')}" for k, v in self.__dict__.items() if isinstance(v, list) and v]
        if parts:
            return ", ".join(parts) + f"; {self.enqueued} job(s) enqueued"
        read = self.events + self.account_events
        if read:
            return f"{read} event(s) of ours, all already applied: 0 changes"
        return "nothing of ours"
