"""Contract templates with `;; /g/<find>/<key>` markers, rendered as the aibtc contract
generator renders them (facts about the template format; no I/O).

A marker line names, for the line that follows it, a text to replace and the key of its
replacement. Keys this deployment knows: each DAO contract's reference (`.aibtc-faktory`
becomes `.<symbol>-faktory`), references to shared base contracts (traits: `.aibtc-dao-traits`
becomes `'<base deployer>.aibtc-dao-traits`), and an agent account's owner and agent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tasks.aibtc import naming

MARKER = re.compile(r"^\s*;; /g/(?P<find>.+)/(?P<key>[a-z0-9_]+)\s*$")
_TEMPLATES = set(naming.DAO_TEMPLATES.values())


@dataclass(frozen=True)
class Replacements:
    symbol: str
    base_deployer: str = ""
    owner: str = ""
    agent: str = ""

    def value(self, find: str, key: str) -> str:
        if key == "account_owner" and self.owner:
            return f"'{self.owner}"
        if key == "account_agent" and self.agent:
            return f"'{self.agent}"
        if find.startswith(".") and find[1:].split(".")[0] in _TEMPLATES:
            name, dot, rest = find[1:].partition(".")
            return f".{naming.dao_contract_name(name, self.symbol)}{dot}{rest}"
        if find.startswith(f".{naming.TEMPLATE_PREFIX}-") and self.base_deployer:
            return f"'{self.base_deployer}{find}"
        return find  # a value the template keeps (metadata, amounts, ...)


def render(source: str, replacements: Replacements) -> str:
    """The template with every marked text replaced on the line after its marker."""
    lines = source.split("\n")
    for i, line in enumerate(lines[:-1]):
        marker = MARKER.match(line)
        if marker:
            lines[i + 1] = lines[i + 1].replace(marker["find"], replacements.value(marker["find"], marker["key"]))
    return "\n".join(lines)
