"""The admin of API tokens: create one (its secret is shown once, on the page after saving) and revoke.

A user manages their own tokens; the tokens of other users (listing them, issuing, revoking,
editing the expiry) need `jobqueue.issue_token_for_others`, which superusers hold.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from jobqueue.exceptions import InvalidStateError
from jobqueue.models import ApiToken
from jobqueue.services.tokens import FOR_OTHERS, change_expiry, create_token, revoke_token


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["name", "prefix", "user__username"]
    actions = ["revoke"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiToken]:
        tokens = super().get_queryset(request)
        return tokens if request.user.has_perm(FOR_OTHERS) else tokens.filter(user=request.user.pk)

    def get_form(self, request: HttpRequest, obj: ApiToken | None = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        owner = form.base_fields.get("user")
        if isinstance(owner, forms.ModelChoiceField):
            owner.initial = request.user.pk
            if not request.user.has_perm(FOR_OTHERS):
                owner.queryset = get_user_model()._default_manager.filter(pk=str(request.user.pk))
                owner.help_text = "your own account: a token for another user needs issue_token_for_others"
        return form

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> Any:
        if obj is None:
            return ["user", "name", "expires_at"]
        return ["user", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> Any:
        if obj is None:
            return []
        return ["user", "prefix", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            stored = ApiToken.objects.get(pk=obj.pk)
            ApiToken.objects.filter(pk=obj.pk).update(name=obj.name)
            if obj.expires_at != stored.expires_at:
                change_expiry(stored, obj.expires_at, by=request.user)
            return
        try:
            issued = create_token(obj.user, obj.name, expires_at=obj.expires_at, by=request.user)
        except PermissionDenied as exc:  # the form only offers one's own account; a forged post ends here
            raise PermissionDenied(str(exc)) from exc
        obj.pk = issued.token.pk
        obj.prefix = issued.token.prefix
        # Handed to response_add only, for this one page: the secret is stored nowhere.
        obj._issued_secret = issued.secret  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "API token created",
            "token": obj,
            "secret": getattr(obj, "_issued_secret", ""),
            "opts": self.opts,
        }
        response = TemplateResponse(request, "jobqueue_api/token_created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None  # create_token already wrote the audit entry

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = 0
        for token in queryset:
            try:
                revoke_token(token, by=request.user, reason="revoked in the admin")
                revoked += 1
            except (InvalidStateError, PermissionDenied) as exc:
                self.message_user(request, str(exc), messages.WARNING)
        self.message_user(request, f"revoked {revoked} token(s)", messages.SUCCESS)
