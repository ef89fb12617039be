"""The domain records the DAO-agent job types read and write: DAOs, proposals, votes, accounts, chain state."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from jobqueue.secrets.fields import EncryptedTextField


class XAccount(models.Model):
    """A posting identity on X: an app's OAuth 1.0a consumer key and secret and the access token
    and secret that app holds for the user (X answers app-only bearer tokens with 403 for posts
    and media). Every credential is encrypted at rest."""

    name = models.CharField(max_length=100, unique=True, help_text="a label, e.g. the account's handle")
    consumer_key = EncryptedTextField()
    consumer_secret = EncryptedTextField()
    access_token = EncryptedTextField()
    access_token_secret = EncryptedTextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "X account"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DAO(models.Model):
    """A DAO and its token, from the deployment request to the confirmed contracts."""

    name = models.CharField(max_length=64)
    mission = models.TextField()
    description = models.TextField(blank=True)
    token_symbol = models.CharField(max_length=10, unique=True)
    token_name = models.CharField(max_length=64)
    token_max_supply = models.PositiveBigIntegerField()
    token_decimals = models.PositiveSmallIntegerField(default=6)
    origin_address = models.CharField(max_length=64)
    dao_contract = models.CharField(max_length=200, blank=True)
    token_contract = models.CharField(max_length=200, blank=True)
    dex_contract = models.CharField(max_length=200, blank=True)
    is_broadcast = models.BooleanField(default=False, help_text="deployment sent to the chain")
    is_deployed = models.BooleanField(default=False, help_text="deployment confirmed on the chain")
    deployment_tx_id = models.CharField(max_length=100, blank=True)
    deployment_job_id = models.UUIDField(null=True, blank=True, help_text="the dao_deployment job that sent it")
    deployment_tx_status = models.CharField(max_length=40, blank=True, help_text="the chain's final status of it")
    social_handle = models.CharField(max_length=50, blank=True)
    x_account = models.ForeignKey(
        XAccount,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="daos",
        help_text="the identity its posts go out as; none: the tweet type's default identity",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "DAO"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["id"], name="tasks_dao_unconfirmed", condition=Q(is_broadcast=True, is_deployed=False))
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_symbol})"


class ProposalStatus(models.TextChoices):
    OPEN = "open"
    PASSED = "passed"
    FAILED = "failed"
    CONCLUDED = "concluded"


class Proposal(models.Model):
    """A governance proposal of a DAO, with its evaluation state and its embedding."""

    dao = models.ForeignKey(DAO, on_delete=models.CASCADE, related_name="proposals")
    title = models.CharField(max_length=255)
    content = models.TextField()
    status = models.CharField(max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.OPEN)
    onchain_id = models.PositiveIntegerField(null=True, blank=True)
    creator = models.CharField(max_length=200, blank=True)
    created_tx_id = models.CharField(max_length=100, blank=True, help_text="the transaction that created it")
    # Burn-block (Bitcoin) heights, as the voting contract counts them.
    created_at_block = models.PositiveBigIntegerField(null=True, blank=True)
    starts_at_block = models.PositiveBigIntegerField(null=True, blank=True, help_text="voting opens")
    ends_at_block = models.PositiveBigIntegerField(null=True, blank=True, help_text="voting closes")
    executes_at_block = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="the proposal can be concluded (end plus the execution delay)"
    )
    evaluated = models.BooleanField(default=False)
    evaluation_summary = models.TextField(blank=True)
    conclusion_tx_id = models.CharField(max_length=100, blank=True)
    conclusion_tx_status = models.CharField(max_length=40, blank=True)
    announced_at = models.DateTimeField(null=True, blank=True, help_text="the conclusion's posts were enqueued")
    embedding = models.JSONField(null=True, blank=True, help_text="a list of floats")
    embedding_model = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Not partial: NULL ids never conflict in a unique index anyway, and MariaDB would
            # skip a partial one (models.W036).
            models.UniqueConstraint(fields=["dao", "onchain_id"], name="tasks_proposal_onchain_id")
        ]

    def __str__(self) -> str:
        return self.title


class Vote(models.Model):
    """One wallet's decision on a proposal; voted once the transaction service broadcast it."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="votes")
    wallet_address = models.CharField(max_length=64)
    approve = models.BooleanField(help_text="the decision: for (true) or against (false)")
    confidence = models.FloatField(null=True, blank=True, help_text="empty for a vote only seen on the chain")
    reasoning = models.TextField(blank=True)
    voted = models.BooleanField(default=False)
    tx_id = models.CharField(max_length=100, blank=True)
    tx_status = models.CharField(max_length=40, blank=True, help_text="the chain's final status of the vote")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["proposal", "wallet_address"], name="tasks_vote_one_per_wallet")]

    def __str__(self) -> str:
        return f"{self.wallet_address} on {self.proposal_id}: {'for' if self.approve else 'against'}"


class AgentAccount(models.Model):
    """An agent account contract deployed for an owner, bound to one DAO's token and DEX."""

    owner_address = models.CharField(max_length=64)
    dao_token_contract = models.CharField(max_length=200)
    dao_dex_contract = models.CharField(max_length=200)
    account_contract = models.CharField(max_length=200, blank=True)
    tx_id = models.CharField(max_length=100)
    tx_status = models.CharField(max_length=40, blank=True, help_text="the chain's final status of the deployment")
    is_deployed = models.BooleanField(default=False, help_text="deployment confirmed on the chain")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner_address", "dao_token_contract"], name="tasks_account_per_owner_token"
            )
        ]

    def __str__(self) -> str:
        return self.account_contract or f"{self.owner_address} ({self.tx_id})"


class ChainStateQuerySet(models.QuerySet["ChainState"]):
    def stale(self) -> ChainStateQuerySet:
        return self.filter(is_stale=True)


class ChainState(models.Model):
    """How far this deployment has followed a network's chain, and whether the chain API answers."""

    network = models.CharField(max_length=20, unique=True)
    last_height = models.PositiveBigIntegerField(null=True, blank=True, help_text="last block seen")
    block_hash = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_ok_at = models.DateTimeField(null=True, blank=True, help_text="last time the chain API answered")
    is_stale = models.BooleanField(default=False, help_text="the chain API has not answered for too long")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ChainStateQuerySet.as_manager()

    class Meta:
        ordering = ["network"]

    def __str__(self) -> str:
        return f"{self.network} at {self.last_height}"


class ThreadPost(models.Model):
    """A post of a `tweet` job's thread, written as soon as the API accepted it, so that a
    retry of the job continues the thread instead of posting it again."""

    job_id = models.UUIDField()
    position = models.PositiveSmallIntegerField()
    post_id = models.CharField(max_length=40)
    posted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["job_id", "position"]
        constraints = [models.UniqueConstraint(fields=["job_id", "position"], name="tasks_thread_post_position")]

    def __str__(self) -> str:
        return f"{self.job_id} #{self.position}: {self.post_id}"


class Chainhook(models.Model):
    """A Hiro Chainhook that delivers blocks to `POST /api/chainhooks/<name>/`.

    `secret` is the whole `Authorization` header value the chainhook is configured to send
    (`then_that.http_post.authorization_header`, e.g. `Bearer <random>`)."""

    name = models.SlugField(max_length=50, unique=True)
    secret = EncryptedTextField(help_text="the Authorization header value the chainhook sends")
    network = models.CharField(max_length=20, default="mainnet")
    is_active = models.BooleanField(default=True)
    last_delivery_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
