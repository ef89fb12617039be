"""The domain records in the Django admin (read mostly: the job types write them)."""

from __future__ import annotations

import uuid

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from jobqueue.admin.secretfields import WriteOnlySecretsAdmin
from tasks import hookguard
from tasks.models import (
    DAO,
    AgentAccount,
    AppliedBlock,
    Chainhook,
    ChainState,
    ContractCursor,
    DaoContract,
    ParkedEvent,
    Proposal,
    ThreadPost,
    Veto,
    Vote,
    XAccount,
)


class DaoContractInline(admin.TabularInline):
    """The DAO's contracts in deployment order, with each one's transaction and status."""

    model = DaoContract
    extra = 0
    can_delete = False
    fields = ["order", "name", "contract_id", "status", "tx_id", "tx_status", "sends"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: DAO | None = None) -> bool:
        return False  # rows come from dao_deployment, in the generated set's order


def workflow_link(workflow_id: uuid.UUID | None) -> str:
    """A link to the workflow's graph in the admin ("-" when there is none)."""
    if workflow_id is None:
        return "-"
    return format_html('<a href="{}">{}</a>', reverse("admin:jobqueue_workflow", args=[str(workflow_id)]), workflow_id)


@admin.register(DAO)
class DAOAdmin(admin.ModelAdmin):
    inlines = [DaoContractInline]
    list_display = ["name", "token_symbol", "is_broadcast", "is_deployed", "deployment_tx_id", "created_at"]
    list_filter = ["is_broadcast", "is_deployed"]
    search_fields = ["name", "token_symbol", "deployment_tx_id", "dao_contract", "token_contract"]
    exclude = ["deployment_workflow_id"]
    readonly_fields = ["deployment_workflow"]

    @admin.display(description="deployment workflow")
    def deployment_workflow(self, obj: DAO) -> str:
        """Its contract deployments and launch post, as one graph (written by dao_deployment)."""
        return workflow_link(obj.deployment_workflow_id)


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    list_display = ["title", "dao", "status", "onchain_id", "evaluated", "embedding_model", "created_at"]
    list_filter = ["status", "evaluated"]
    search_fields = ["title", "content"]
    list_select_related = ["dao"]
    exclude = ["embedding", "workflow_id"]  # hundreds of floats help nobody in a form
    readonly_fields = ["lifecycle"]

    @admin.display(description="lifecycle workflow")
    def lifecycle(self, obj: Proposal) -> str:
        """Its evaluations, votes, conclusion and announcement, as one graph (written by the reader)."""
        return workflow_link(obj.workflow_id)


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ["proposal", "wallet_address", "approve", "confidence", "voted", "abstain_reason", "tx_id"]
    list_filter = ["voted", "approve"]
    search_fields = ["wallet_address", "tx_id"]
    list_select_related = ["proposal"]


@admin.register(AgentAccount)
class AgentAccountAdmin(admin.ModelAdmin):
    list_display = ["owner_address", "agent_address", "dao_token_contract", "account_contract", "tx_id", "created_at"]
    search_fields = ["owner_address", "account_contract", "tx_id"]


@admin.register(ChainState)
class ChainStateAdmin(admin.ModelAdmin):
    list_display = ["network", "last_height", "held_at", "block_hash", "last_ok_at", "is_stale", "updated_at"]
    list_filter = ["is_stale"]


@admin.register(AppliedBlock)
class AppliedBlockAdmin(admin.ModelAdmin):
    """Blocks a chainhook applied ahead of the chain state: the state moves over them once a
    chain_block_replay has read every event of ours up to them (a failed replay is its job)."""

    list_display = ["network", "height", "block_hash", "applied_at"]
    list_filter = ["network"]


@admin.register(ContractCursor)
class ContractCursorAdmin(admin.ModelAdmin):
    """How far chain_block_replay has read each contract's print events. Deleting a cursor makes
    the next replay read that contract from its first event again (safe: applying is idempotent)."""

    list_display = ["network", "contract_id", "height", "tx_index", "event_index", "tx_id", "updated_at"]
    list_filter = ["network"]
    search_fields = ["contract_id", "tx_id"]
    readonly_fields = ["network", "contract_id", "height", "tx_index", "event_index", "tx_id", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ParkedEvent)
class ParkedEventAdmin(admin.ModelAdmin):
    """Votes, vetoes and conclusions read before their proposal; applied when it is recorded."""

    list_display = ["dao", "onchain_id", "event", "tx_id", "created_at"]
    search_fields = ["tx_id"]


@admin.register(Veto)
class VetoAdmin(admin.ModelAdmin):
    list_display = ["proposal", "vetoer", "amount", "tx_id", "created_at"]
    search_fields = ["vetoer", "tx_id"]


@admin.register(ThreadPost)
class ThreadPostAdmin(admin.ModelAdmin):
    list_display = ["job_id", "position", "post_id", "posted_at"]
    search_fields = ["job_id", "post_id"]


@admin.register(Chainhook)
class ChainhookAdmin(WriteOnlySecretsAdmin):
    secret_min_lengths = {"secret": hookguard.MIN_SECRET_CHARS}  # a guessable secret is refused
    list_display = ["name", "network", "is_active", "last_delivery_at", "created_at"]
    list_filter = ["is_active", "network"]
    fields = ["name", "secret", "network", "is_active", "last_delivery_at"]
    readonly_fields = ["last_delivery_at"]


@admin.register(XAccount)
class XAccountAdmin(WriteOnlySecretsAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    fields = ["name", "consumer_key", "consumer_secret", "access_token", "access_token_secret"]
