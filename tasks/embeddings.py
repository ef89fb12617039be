"""`dao_proposal_embedder`: embed the title and content of proposals that have no embedding yet."""

from __future__ import annotations

import pydantic
from asgiref.sync import sync_to_async

from jobqueue import BaseJob, JobContext, JobResult, PermanentError, Priority, job
from tasks.clients.llm import LLMClient, LLMSettings
from tasks.fields import RecordId
from tasks.models import Proposal


def proposal_text(proposal: Proposal) -> str:
    return f"{proposal.title}\n\n{proposal.content}"


# No concurrency limit: the engine counts a batch as batch_size running jobs, so a limit below
# batch_size would silently shrink every batch (jobqueue/engine/claim.py counts jobs, not units).
@job(priority=Priority.LOW, max_attempts=3, timeout=600, batch_size=10, schedule=900, enabled=False)
class DaoProposalEmbedder(BaseJob):
    """Embed proposals without an embedding, `batch_size` texts per request; with no ids, all of them."""

    class Payload(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        proposal_ids: list[RecordId] = pydantic.Field(default_factory=list, max_length=1000)

    class Settings(LLMSettings):
        max_per_run: int = pydantic.Field(default=500, ge=1, description="proposals a scheduled run embeds at most")

    def check_configuration(self, ctx: JobContext) -> None:
        super().check_configuration(ctx)
        LLMClient.from_settings(ctx.settings)

    async def execute_batch(self, ctx: JobContext, payloads: list[Payload]) -> list[JobResult | Exception]:
        wanted = {pk for payload in payloads for pk in payload.proposal_ids}
        everything = any(not payload.proposal_ids for payload in payloads)  # a scheduled run
        todo = await sync_to_async(self.pending)(ctx, wanted, everything)
        # Nothing to embed means no request at all (the old job paid for a test call every run).
        if todo:
            await self.embed(ctx, todo)
        existing = await sync_to_async(self.existing)(wanted)
        results: list[JobResult | Exception] = []
        for payload in payloads:
            missing = sorted(set(payload.proposal_ids) - existing)
            if missing:
                results.append(PermanentError(f"proposals {missing} do not exist"))
            else:
                results.append(JobResult.ok(f"{len(todo)} embedded in this batch", embedded=len(todo)))
        return results

    def pending(self, ctx: JobContext, wanted: set[int], everything: bool) -> list[Proposal]:
        pending = Proposal.objects.filter(embedding__isnull=True).order_by("pk")
        if everything:
            todo = list(pending[: ctx.settings.max_per_run]) + list(pending.filter(pk__in=wanted))
        else:
            todo = list(pending.filter(pk__in=wanted))
        return list({p.pk: p for p in todo}.values())

    def existing(self, wanted: set[int]) -> set[int]:
        return set(Proposal.objects.filter(pk__in=wanted).values_list("pk", flat=True))

    async def embed(self, ctx: JobContext, proposals: list[Proposal]) -> None:
        """One request per `batch_size` proposals; each chunk is stored as soon as it is embedded."""
        client = LLMClient.from_settings(ctx.settings)
        model = ctx.settings.embedding_model
        size = ctx.config.batch_size
        for start in range(0, len(proposals), size):
            chunk = proposals[start : start + size]
            vectors = await client.embed(model, [proposal_text(p) for p in chunk])
            # A failure in a later chunk leaves these stored, and the retry skips them.
            for proposal, vector in zip(chunk, vectors, strict=True):
                await Proposal.objects.filter(pk=proposal.pk).aupdate(embedding=vector, embedding_model=model)
            await ctx.aprogress((start + len(chunk)) / len(proposals))
        ctx.log.info("embedded %s proposal(s) in %s request(s)", len(proposals), -(-len(proposals) // size))
