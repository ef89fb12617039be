"""What partitions the job types that spend a chain API key or a signing key: a label of the key.

`Job.partition_key` is shown in the admin and the API, so it never holds a secret. A Hiro API
key is named by a keyed hash of it (HMAC with the project's SECRET_KEY: stable while the key
and SECRET_KEY are, and not checkable against a guessed key by whoever reads the admin); without
a key, by the API's host, whose per-client limit then applies. A signing key is named by its
address where this deployment knows it (an agent's, public on chain), and otherwise by the
transaction service that holds it (the service key, whose address only the service knows).

The label is computed at enqueue from the type's settings at that moment: a job enqueued before
an operator changes the key keeps the old key's label (and runs with the new key).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.utils.crypto import salted_hmac

from jobqueue.config.effective import type_state
from tasks.clients.chain import ChainApiSettings
from tasks.clients.transactions import TransactionSettings
from tasks.models import AgentAccount

_SALT = "tasks.partitions.chain_api_key"


def _host(url: str) -> str:
    return urlsplit(url).netloc or "unset"


def chain_api_label(settings: ChainApiSettings) -> str:
    """`hiro-key:<12 hex>` for a configured API key, else `chain-api:<host>`."""
    key = settings.chain_api_key.get_secret_value()
    if key:
        return f"hiro-key:{salted_hmac(_SALT, key, algorithm='sha256').hexdigest()[:12]}"
    return f"chain-api:{_host(settings.chain_api_url)}"


def service_signer_label(settings: TransactionSettings) -> str:
    """The transaction service's own key (deployments, conclusions), by the service's host."""
    return f"signer:service@{_host(settings.tx_service_url)}"


def agent_signer_label(account_contract: str) -> str:
    """The agent key that signs a vote through this account: the agent's address, from the
    account's record ("signer:account:<contract>" while the account is not recorded)."""
    agent = AgentAccount.objects.filter(account_contract=account_contract).values_list("agent_address", flat=True)
    address = next((a for a in agent if a), "")
    return f"signer:agent:{address}" if address else f"signer:account:{account_contract}"


def _settings(job: Any) -> Any:
    return type_state(job.definition.name).config.settings


class ByChainApiKey:
    """Partitioned by the Hiro API key (or host) the type is configured with."""

    def partition_key(self, payload: Any) -> str:
        settings = _settings(self)
        return chain_api_label(settings) if isinstance(settings, ChainApiSettings) else ""


class ByServiceKey:
    """Partitioned by the transaction service's key, which signs this type's transactions."""

    def partition_key(self, payload: Any) -> str:
        settings = _settings(self)
        return service_signer_label(settings) if isinstance(settings, TransactionSettings) else ""
