"""A proposal's `parameters` read as its text, title and tags (facts of the aibtc frontend's format, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

from tasks.clarity import ClarityError, decode

METADATA_MARKER = "--- Metadata ---"


@dataclass(frozen=True)
class ProposalText:
    """What a proposal says: its `parameters` read as the message the action receives."""

    text: str
    title: str
    tags: tuple[str, ...]


def proposal_text(parameters: bytes) -> ProposalText:
    """Read `parameters`: the consensus serialisation of a string (`(string-utf8 2043)` for
    `action-send-message`), whose text may end with a `--- Metadata ---` block of `Title: ...`
    and `Tags: a|b|c` lines (as the aibtc frontend and backend write it). A buffer that is not a
    serialised string is shown as hex, untitled."""
    try:
        value = decode(parameters.hex())
    except (ClarityError, UnicodeDecodeError):
        value = None
    if not isinstance(value, str):
        return ProposalText(text="0x" + parameters.hex(), title="", tags=())
    body, marker, metadata = value.partition(METADATA_MARKER)
    title, tags = "", ()
    if marker:
        for line in metadata.splitlines():
            key, colon, rest = line.partition(":")
            if colon and key.strip() == "Title":
                title = rest.strip()
            elif colon and key.strip() == "Tags":
                tags = tuple(tag.strip() for tag in rest.split("|") if tag.strip())
    return ProposalText(text=body.strip() if marker else value, title=title, tags=tags)
