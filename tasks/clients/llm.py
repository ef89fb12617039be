"""An OpenAI-compatible API: chat completions and embeddings (any server with that shape, local ones too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import pydantic

from jobqueue import PermanentError, RetryableError
from jobqueue.secrets.sealing import SentTo
from tasks.clients.http import asend, bearer, join, json_object

SERVICE = "the language model API"


class LLMSettings(pydantic.BaseModel):
    llm_base_url: str = "https://api.openai.com/v1"
    llm_api_key: Annotated[pydantic.SecretStr, SentTo("llm_base_url")] = pydantic.SecretStr("")
    chat_model: str = "gpt-4o-mini"
    embedding_model: str = "text-embedding-3-small"
    llm_timeout_seconds: float = pydantic.Field(default=60.0, gt=0)


@dataclass(frozen=True)
class LLMClient:
    base_url: str
    api_key: str
    timeout: float

    @classmethod
    def from_settings(cls, settings: LLMSettings) -> LLMClient:
        if not settings.llm_base_url:
            raise PermanentError("set the llm_base_url setting of this job type")
        return cls(settings.llm_base_url, settings.llm_api_key.get_secret_value(), settings.llm_timeout_seconds)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await asend(
            SERVICE, "POST", join(self.base_url, path), timeout=self.timeout, headers=bearer(self.api_key), json=body
        )
        return json_object(response, SERVICE)

    async def chat(self, model: str, system: str, user: str, *, json_answer: bool = False) -> str:
        """The assistant's answer to one system + user exchange."""
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        }
        if json_answer:
            body["response_format"] = {"type": "json_object"}
        answer = await self._post("chat/completions", body)
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise RetryableError(f"{SERVICE} answered without choices[0].message.content") from None
        if not isinstance(content, str) or not content.strip():
            raise RetryableError(f"{SERVICE} answered an empty message")
        return content.strip()

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        """One vector per text, in the order of `texts`, from a single request."""
        answer = await self._post("embeddings", {"model": model, "input": texts})
        items = answer.get("data")
        if not isinstance(items, list) or len(items) != len(texts):
            raise RetryableError(
                f"{SERVICE} answered {len(items) if isinstance(items, list) else 'no'} embeddings for {len(texts)} texts"
            )
        try:
            ordered = sorted(items, key=lambda item: int(item.get("index", 0)))
            return [[float(x) for x in item["embedding"]] for item in ordered]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise RetryableError(f"{SERVICE} answered malformed embeddings") from None
