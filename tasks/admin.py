"""The domain records in the Django admin (read mostly: the job types write them)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from tasks.models import DAO, AgentAccount, Chainhook, ChainState, DaoContract, Proposal, ThreadPost, Vote, XAccount


class DaoContractInline(admin.TabularInline):
    """The DAO's contracts in deployment order, with each one's transaction and status."""

    model = DaoContract
    extra = 0
    can_delete = False
    fields = ["order", "name", "contract_id", "status", "tx_id", "tx_status", "sends"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: DAO | None = None) -> bool:
        return False  # rows come from dao_deployment, in the generated set's order


@admin.register(DAO)
class DAOAdmin(admin.ModelAdmin):
    inlines = [DaoContractInline]
    list_display = ["name", "token_symbol", "is_broadcast", "is_deployed", "deployment_tx_id", "created_at"]
    list_filter = ["is_broadcast", "is_deployed"]
    search_fields = ["name", "token_symbol", "deployment_tx_id", "dao_contract", "token_contract"]


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    list_display = ["title", "dao", "status", "onchain_id", "evaluated", "embedding_model", "created_at"]
    list_filter = ["status", "evaluated"]
    search_fields = ["title", "content"]
    list_select_related = ["dao"]
    exclude = ["embedding"]  # hundreds of floats help nobody in a form


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
    list_display = ["network", "last_height", "block_hash", "last_ok_at", "is_stale", "updated_at"]
    list_filter = ["is_stale"]


@admin.register(ThreadPost)
class ThreadPostAdmin(admin.ModelAdmin):
    list_display = ["job_id", "position", "post_id", "posted_at"]
    search_fields = ["job_id", "post_id"]


class ChainhookForm(forms.ModelForm):
    # Write-only: the stored secret is never sent back to the browser; empty keeps it.
    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="the exact Authorization header value the chainhook sends; leave empty to keep the current one",
    )

    class Meta:
        model = Chainhook
        fields = ["name", "secret", "network", "is_active"]

    def clean_secret(self) -> str:
        value = str(self.cleaned_data.get("secret") or "")
        if not value and not (self.instance.pk and self.instance.secret):
            raise forms.ValidationError("a new chainhook needs a secret")
        return value or self.instance.secret


@admin.register(Chainhook)
class ChainhookAdmin(admin.ModelAdmin):
    form = ChainhookForm
    list_display = ["name", "network", "is_active", "last_delivery_at", "created_at"]
    list_filter = ["is_active", "network"]
    fields = ["name", "secret", "network", "is_active", "last_delivery_at"]
    readonly_fields = ["last_delivery_at"]


CREDENTIALS = ["consumer_key", "consumer_secret", "access_token", "access_token_secret"]


class XAccountForm(forms.ModelForm):
    """Write-only credentials: never sent back to the browser; a field left empty keeps its value."""

    class Meta:
        model = XAccount
        fields = ["name", *CREDENTIALS]
        widgets = {name: forms.PasswordInput(render_value=False) for name in CREDENTIALS}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in CREDENTIALS:
            self.fields[name].required = not self.instance.pk
            self.fields[name].help_text = "leave empty to keep the current value" if self.instance.pk else ""

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        for name in CREDENTIALS:
            if not cleaned.get(name) and self.instance.pk:
                cleaned[name] = getattr(self.instance, name)
        return cleaned


@admin.register(XAccount)
class XAccountAdmin(admin.ModelAdmin):
    form = XAccountForm
    list_display = ["name", "created_at"]
    search_fields = ["name"]
