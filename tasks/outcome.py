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
    prints_not_understood: list[str] = field(default_factory=list)
    enqueued: int = 0

    def as_data(self) -> dict[str, Any]:
        data = {key: value for key, value in self.__dict__.items() if value}
        if self.prints_not_understood:
            data["not_understood"] = len(self.prints_not_understood)
        return data

    def summary(self) -> str:
        parts = [f"{len(v)} {k.replace('_', ' ')}" for k, v in self.__dict__.items() if isinstance(v, list) and v]
        return ", ".join(parts) + f"; {self.enqueued} job(s) enqueued" if parts else "nothing of ours"
