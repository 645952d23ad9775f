"""Retries that honour Retry-After but never outlast a time budget.

azure-core's retry policy sleeps whatever Retry-After says (a throttled service may say a minute) and
its default total is minutes long. A ringing call has Event Grid's 30 seconds at most, so this policy
keeps azure-core's behaviour (retry 408/429/5xx and connection errors, honour Retry-After, exponential
backoff) but gives up, returning the last response, as soon as the next wait would end past the budget.
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import AsyncRetryPolicy


class BudgetedRetryPolicy(AsyncRetryPolicy):
    """AsyncRetryPolicy bounded by a wall-clock budget per request, Retry-After included."""

    def __init__(self, budget_seconds: float, **kwargs: Any) -> None:
        super().__init__(timeout=budget_seconds, **kwargs)
        self.budget_seconds = budget_seconds

    def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
        settings = super().configure_retries(options)
        settings["deadline"] = time.monotonic() + self.budget_seconds
        return settings

    def _next_wait(self, settings: dict[str, Any], response: Any) -> float:
        if isinstance(response, PipelineResponse):
            retry_after = self.get_retry_after(response)
            if retry_after:
                return retry_after
        return self.get_backoff_time(settings)

    def increment(self, settings: dict[str, Any], response: Any = None, error: Any = None) -> bool:
        if not super().increment(settings, response=response, error=error):
            return False
        # Stop now rather than sleep into a deadline: the caller records the failure while it still can.
        return time.monotonic() + self._next_wait(settings, response) < settings["deadline"]
