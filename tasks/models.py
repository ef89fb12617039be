"""The domain records the DAO-agent job types read and write: DAOs, proposals, votes, accounts, chain state."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from jobqueue.secrets.fields import EncryptedTextField
from tasks.aibtc.naming import MAX_PRINCIPAL_LENGTH

# Every column holding a Stacks principal holds the longest contract principal.
PRINCIPAL = MAX_PRINCIPAL_LENGTH


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
    origin_address = models.CharField(max_length=PRINCIPAL)
    dao_contract = models.CharField(max_length=PRINCIPAL, blank=True)
    token_contract = models.CharField(max_length=PRINCIPAL, blank=True)
    dex_contract = models.CharField(max_length=PRINCIPAL, blank=True)
    is_broadcast = models.BooleanField(default=False, help_text="deployment sent to the chain")
    is_deployed = models.BooleanField(default=False, help_text="deployment confirmed on the chain")
    deployment_tx_id = models.CharField(max_length=100, blank=True)
    deployment_job_id = models.UUIDField(null=True, blank=True, help_text="the dao_deployment job that sent it")
    deployment_workflow_id = models.UUIDField(
        null=True, blank=True, help_text="the workflow of its contract deployments and launch post"
    )
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
    workflow_id = models.UUIDField(
        null=True, blank=True, help_text="its lifecycle: evaluations, votes, conclusion, announcement"
    )
    tags = models.JSONField(default=list, blank=True, help_text="from the parameters' metadata block")
    # From the voting extension's create-action-proposal notification (empty for a proposal recorded by hand).
    voting_contract = models.CharField(max_length=PRINCIPAL, blank=True, help_text="the extension that printed it")
    action_contract = models.CharField(
        max_length=PRINCIPAL, blank=True, help_text="the action a conclusion must pass back to the contract"
    )
    parameters = models.TextField(
        blank=True, help_text="the action's parameters as printed (hex); content is their text"
    )
    memo = models.TextField(blank=True)
    creator = models.CharField(max_length=PRINCIPAL, blank=True)
    caller = models.CharField(max_length=PRINCIPAL, blank=True)
    contract_caller = models.CharField(max_length=PRINCIPAL, blank=True)
    tx_sender = models.CharField(max_length=PRINCIPAL, blank=True)
    bond = models.PositiveBigIntegerField(null=True, blank=True, help_text="token base units")
    liquid_tokens = models.PositiveBigIntegerField(null=True, blank=True, help_text="token base units")
    voting_delay = models.PositiveIntegerField(null=True, blank=True, help_text="burn blocks")
    voting_period = models.PositiveIntegerField(null=True, blank=True, help_text="burn blocks")
    voting_quorum = models.PositiveIntegerField(null=True, blank=True, help_text="percent of liquid tokens")
    voting_threshold = models.PositiveIntegerField(null=True, blank=True, help_text="percent of votes for")
    voting_reward = models.PositiveBigIntegerField(null=True, blank=True, help_text="token base units")
    created_at_stacks_block = models.PositiveBigIntegerField(null=True, blank=True)
    created_tx_id = models.CharField(max_length=100, blank=True, help_text="the transaction that created it")
    # Burn-block (Bitcoin) heights, as the voting contract counts them.
    created_at_block = models.PositiveBigIntegerField(null=True, blank=True)
    starts_at_block = models.PositiveBigIntegerField(null=True, blank=True, help_text="voting opens")
    ends_at_block = models.PositiveBigIntegerField(null=True, blank=True, help_text="voting closes")
    executes_at_block = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="the proposal can be concluded (end plus the execution delay)"
    )
    exec_end_block = models.PositiveBigIntegerField(null=True, blank=True, help_text="execution window closes")
    # From the conclude-action-proposal notification.
    votes_for = models.PositiveBigIntegerField(null=True, blank=True)
    votes_against = models.PositiveBigIntegerField(null=True, blank=True)
    veto_votes = models.PositiveBigIntegerField(null=True, blank=True)
    met_quorum = models.BooleanField(null=True, blank=True)
    met_threshold = models.BooleanField(null=True, blank=True)
    veto_met_quorum = models.BooleanField(null=True, blank=True)
    veto_exceeds_yes = models.BooleanField(null=True, blank=True)
    vetoed = models.BooleanField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    executed = models.BooleanField(null=True, blank=True)
    expired = models.BooleanField(null=True, blank=True)
    conclusion_status = models.PositiveIntegerField(null=True, blank=True, help_text="the contract's status bits")
    execution_error = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="the action's error code when a passed proposal failed to run"
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
    wallet_address = models.CharField(
        max_length=PRINCIPAL, help_text="the voter: an agent account contract when voted through one"
    )
    approve = models.BooleanField(help_text="the decision: for (true) or against (false)")
    amount = models.PositiveBigIntegerField(null=True, blank=True, help_text="voting power, as the chain counted it")
    confidence = models.FloatField(null=True, blank=True, help_text="empty for a vote only seen on the chain")
    reasoning = models.TextField(blank=True)
    abstain_reason = models.TextField(blank=True, help_text="why it is not sent (e.g. confidence below the threshold)")
    voted = models.BooleanField(default=False)
    tx_id = models.CharField(max_length=100, blank=True)
    tx_status = models.CharField(max_length=40, blank=True, help_text="the chain's final status of the vote")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["proposal", "wallet_address"], name="tasks_vote_one_per_wallet")]

    def __str__(self) -> str:
        return f"{self.wallet_address} on {self.proposal_id}: {'for' if self.approve else 'against'}"


class Veto(models.Model):
    """A veto vote on a proposal, read from the chain."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="vetoes")
    vetoer = models.CharField(max_length=PRINCIPAL)
    amount = models.PositiveBigIntegerField(help_text="veto power, as the chain counted it")
    tx_id = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["proposal", "vetoer"], name="tasks_veto_one_per_vetoer")]

    def __str__(self) -> str:
        return f"{self.vetoer} vetoed {self.proposal_id}"


class ParkedEvent(models.Model):
    """A vote, veto or conclusion read before its proposal: applied when the proposal is recorded."""

    dao = models.ForeignKey(DAO, on_delete=models.CASCADE, related_name="parked_events")
    onchain_id = models.PositiveIntegerField()
    event = models.CharField(max_length=64, help_text="the notification's event name")
    data = models.JSONField(help_text="the notification's fields")
    tx_id = models.CharField(max_length=100)
    block_hash = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["dao", "onchain_id", "event", "tx_id"], name="tasks_parked_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.event} of proposal {self.onchain_id} ({self.tx_id})"


class AgentAccount(models.Model):
    """An agent account contract between an owner and an agent, named
    `aibtc-acct-<owner 5>-<owner 5>-<agent 5>-<agent 5>`: the agent votes through it with the
    account's tokens (the transaction service holds the agent's key)."""

    owner_address = models.CharField(max_length=PRINCIPAL)
    agent_address = models.CharField(
        max_length=PRINCIPAL, blank=True, help_text="the agent whose key signs its votes; empty: it cannot vote"
    )
    dao_token_contract = models.CharField(max_length=PRINCIPAL)
    dao_dex_contract = models.CharField(max_length=PRINCIPAL, blank=True)
    account_contract = models.CharField(max_length=PRINCIPAL, blank=True)
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


class DaoContractStatus(models.TextChoices):
    PENDING = "pending"
    BROADCAST = "broadcast"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class DaoContract(models.Model):
    """One contract of a DAO's generated set, deployed as its own transaction in `order`."""

    dao = models.ForeignKey(DAO, on_delete=models.CASCADE, related_name="contracts")
    template = models.CharField(max_length=128, help_text="the generator's template name (aibtc-...)")
    name = models.CharField(max_length=128, help_text="the deployed contract name")
    order = models.PositiveSmallIntegerField(help_text="deployment order: lower deploys first")
    contract_id = models.CharField(max_length=PRINCIPAL, blank=True, help_text="deployer.name once broadcast")
    status = models.CharField(max_length=16, choices=DaoContractStatus.choices, default=DaoContractStatus.PENDING)
    tx_id = models.CharField(max_length=100, blank=True)
    tx_status = models.CharField(max_length=40, blank=True, help_text="the chain's final status")
    sends = models.PositiveSmallIntegerField(default=0, help_text="transactions sent for it (a failed one is resent)")

    class Meta:
        ordering = ["dao", "order", "name"]
        constraints = [models.UniqueConstraint(fields=["dao", "name"], name="tasks_dao_contract_once")]

    def __str__(self) -> str:
        return self.contract_id or self.name


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

    held_at = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="the block the state waits for: later blocks are applied, this one is not"
    )

    objects = ChainStateQuerySet.as_manager()

    class Meta:
        ordering = ["network"]

    def __str__(self) -> str:
        return f"{self.network} at {self.last_height}"


class AppliedBlock(models.Model):
    """A block applied ahead of the ChainState (out of order); removed once the state passes it."""

    network = models.CharField(max_length=20)
    height = models.PositiveBigIntegerField()
    block_hash = models.CharField(max_length=100)
    applied_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["network", "height"]
        constraints = [models.UniqueConstraint(fields=["network", "height"], name="tasks_applied_block_once")]

    def __str__(self) -> str:
        return f"{self.network} {self.height}"


class ContractCursor(models.Model):
    """How far the replay has read one contract's print events (the Stacks API's contract-events
    list): the newest event applied, by its place in the chain. A contract without one is read
    from its first event."""

    network = models.CharField(max_length=20)
    contract_id = models.CharField(max_length=PRINCIPAL)
    height = models.PositiveBigIntegerField(help_text="the block of the newest event applied")
    tx_index = models.PositiveIntegerField(help_text="its transaction's place in the block")
    event_index = models.PositiveIntegerField(help_text="its place among the transaction's events")
    tx_id = models.CharField(max_length=100)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["network", "contract_id"]
        constraints = [models.UniqueConstraint(fields=["network", "contract_id"], name="tasks_contract_cursor_once")]

    def __str__(self) -> str:
        return f"{self.network} {self.contract_id} at {self.height}"

    @property
    def place(self) -> tuple[int, int, int]:
        return (self.height, self.tx_index, self.event_index)


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
