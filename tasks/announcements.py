"""What a proposal's conclusion posts: Discord for every conclusion, X only when it passed.

Worded as the seed's backend words them: Discord says approved or rejected with the vote's
participation (votes cast over the liquid tokens the proposal was created with) and approval
(votes for over votes cast); X posts the approved message, marked as approved by the proposal.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.models import DAO, Proposal

DISCORD_MAX_CHARS = 2000


@dataclass(frozen=True)
class ConclusionPosts:
    discord: str
    tweet: str | None  # None: nothing goes to X (the proposal failed)


def percent(part: int, whole: int) -> float:
    return part * 100 / whole if whole else 0.0


def conclusion_posts(proposal: Proposal, dao: DAO, passed: bool) -> ConclusionPosts:
    votes_for, votes_against = proposal.votes_for or 0, proposal.votes_against or 0
    cast = votes_for + votes_against
    figures = (
        f"Participation: {percent(cast, proposal.liquid_tokens or 0):.1f}%\nApproval: {percent(votes_for, cast):.1f}%"
    )
    head = (
        f"✅ Approved: proposal #{proposal.onchain_id}" if passed else f"🛑 Rejected: proposal #{proposal.onchain_id}"
    )
    room = DISCORD_MAX_CHARS - len(head) - len(dao.name) - len(figures) - 8
    discord = f"{head} of {dao.name}\n{proposal.title[: max(room, 0)]}\n\n{figures}"
    if not passed:
        return ConclusionPosts(discord, None)
    message = (proposal.content or proposal.title).strip()
    return ConclusionPosts(discord, f"{message}\n\napproved by proposal #{proposal.onchain_id} of {dao.name}")
