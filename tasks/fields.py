"""Payload field types shared by the job types: Stacks addresses and contract principals."""

from __future__ import annotations

from typing import Annotated

import pydantic

# c32 alphabet (no I, L, O, U); S then a version letter, then 38-40 characters.
_ADDRESS = r"S[PMTN][0-9A-HJKMNP-TV-Z]{38,40}"

StacksAddress = Annotated[str, pydantic.StringConstraints(pattern=rf"^{_ADDRESS}$")]
ContractPrincipal = Annotated[str, pydantic.StringConstraints(pattern=rf"^{_ADDRESS}\.[a-zA-Z][a-zA-Z0-9_-]{{0,127}}$")]
RecordId = Annotated[int, pydantic.Field(ge=1)]
# Either: a wallet, or a contract (an agent account votes as a contract principal).
Principal = Annotated[str, pydantic.StringConstraints(pattern=rf"^{_ADDRESS}(\.[a-zA-Z][a-zA-Z0-9_-]{{0,127}})?$")]
