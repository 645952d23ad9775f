"""Wires settings, rules and adapters once per process (and event loop), on first use, never at import."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable

# Imported with the app, when the host indexes it, rather than during the first ring: azure-core would
# otherwise import its aiohttp transport (~100 ms) inside the first request.
from azure.core.pipeline.transport import AioHttpTransport

from shared.config import Settings, load_settings
from shared.domain.routing import Ruleset, load_rules
from shared.errors import ConfigError, RulesError

if TYPE_CHECKING:
    from shared.adapters.acs import CallControl
    from shared.adapters.callback_auth import CallbackVerifier
    from shared.adapters.legs import TableLegStore
    from shared.adapters.stats_store import TableStatsStore
    from shared.adapters.store import CallStore
    from shared.adapters.voicemails import VoicemailStore

log = logging.getLogger("callsteer")
PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Event Grid gives the incoming-call handler 30 s in all: ACS gets 15 s of retries (Retry-After honoured
# within them, see adapters/retry.py), Table Storage 8 s; never the SDKs' minutes-long defaults.
ACS_BUDGET_SECONDS = 15.0
ACS_RETRY = dict(retry_total=4, retry_backoff_factor=0.25, retry_backoff_max=2.0)
ACS_TIMEOUTS = dict(connection_timeout=5, read_timeout=10)
TABLES_RETRY = dict(retry_total=2, retry_backoff_factor=0.2, retry_backoff_max=1.0, timeout=8,
                    connection_timeout=5, read_timeout=8)


@dataclass
class Services:
    """Everything a handler needs; built once and reused by every invocation in the process."""

    settings: Settings
    rules: Ruleset
    store: CallStore
    control: CallControl
    clock: Callable[[], datetime]
    # None only when ACS_CALLBACK_VERIFY_JWT=false: callbacks are then checked by their URL token alone.
    callback_verifier: CallbackVerifier | None
    # The app's redirects and created calls by correlation id (own legs, hop counts); beside the calls.
    legs: TableLegStore | None = None
    # The daily figures (GET /api/stats), counted as calls are written.
    stats: TableStatsStore | None = None
    # Voicemails left through call flows (their list, and the link from a recording to its call).
    voicemails: VoicemailStore | None = None

    @property
    def clock_offset(self) -> timedelta:
        """CLOCK_OFFSET_SECONDS: how far the app's clock (`clock`) is ahead of the wire's (0 in production)."""
        return timedelta(seconds=self.settings.clock_offset_seconds)

    def routing_time(self, event_time: datetime) -> datetime:
        """The time the routing rules see for a call: its event's time on the app's clock (to rehearse a
        calendar date or a window with CLOCK_OFFSET_SECONDS)."""
        return event_time + self.clock_offset


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def read_rules(settings: Settings) -> Ruleset:
    """Load the ruleset from ROUTING_RULES or ROUTING_RULES_FILE (relative paths from the project root)."""
    if settings.rules_json:
        text, source = settings.rules_json, "ROUTING_RULES"
    else:
        path = Path(settings.rules_file)
        if not path.is_absolute():
            path = PROJECT_ROOT / path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"setting ROUTING_RULES_FILE names {str(path)!r}, which cannot be read: "
                              f"{exc.strerror}") from None
        source = f"ROUTING_RULES_FILE {path.name}"
    try:
        return load_rules(text, source, recordings_configured=bool(settings.recordings_container_url))
    except RulesError as exc:
        # A bad ruleset is a settings problem: refused whole at load, before any call is decided by it.
        raise ConfigError(str(exc)) from exc


def _credential():
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential()


# Proxy settings azure-core's transport would read (urllib's names, either case).
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


def _transport() -> AioHttpTransport:
    """The HTTP transport of the SDK clients: environment proxy settings honoured only when some are set.

    With them on, aiohttp looks up the proxy and ~/.netrc for every request in a worker thread (two thread hand-offs
    per request, a large share of a callback's CPU); with no proxy variable set there is nothing for it to find."""
    proxied = any(os.environ.get(name) or os.environ.get(name.upper()) for name in _PROXY_VARIABLES)
    return AioHttpTransport(use_env_settings=proxied)


def _table_client(settings: Settings, table: str | None = None):
    from azure.data.tables.aio import TableClient

    from shared.adapters.store import TABLE_NAME

    table = table or TABLE_NAME
    if settings.tables.connection_string:
        return TableClient.from_connection_string(settings.tables.connection_string, table,
                                                  transport=_transport(), **TABLES_RETRY)
    return TableClient(settings.tables.endpoint, table, credential=_credential(), transport=_transport(),
                       **TABLES_RETRY)


def _acs_client(settings: Settings):
    from azure.communication.callautomation.aio import CallAutomationClient
    from azure.core.credentials import AzureKeyCredential

    from shared.adapters.retry import BudgetedRetryPolicy

    credential = AzureKeyCredential(settings.acs.access_key) if settings.acs.access_key else _credential()
    retry = BudgetedRetryPolicy(ACS_BUDGET_SECONDS, **ACS_RETRY)
    return CallAutomationClient(settings.acs.endpoint, credential, retry_policy=retry, transport=_transport(),
                                **ACS_TIMEOUTS)


def build_services(settings: Settings | None = None) -> Services:
    from shared.adapters.acs import AcsCallControl
    from shared.adapters.stats_store import STATS_TABLE, TableStatsStore
    from shared.adapters.store import TableCallStore

    settings = settings or load_settings()
    rules = read_rules(settings)
    # azure-core logs every request's URL and headers at INFO; URLs carry call ids and the key set's host,
    # and its header redaction is an allow-list we do not control. Keep it to warnings.
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    verifier = None
    if settings.callback.verify_jwt:
        verifier = LazyCallbackVerifier(settings)
    else:
        log.warning("callback JWT verification is OFF (ACS_CALLBACK_VERIFY_JWT=false): callbacks are checked by "
                    "their per-call token only; never run this way in production")
    clock = utc_now
    if settings.clock_offset_seconds:
        # Rehearsals (calendars, windows, retention): every time the app reads or writes is shifted; the
        # times on the wire (event times, Repeatability-First-Sent of a decision) are the wire's own.
        offset = timedelta(seconds=settings.clock_offset_seconds)
        log.warning("the app's clock is shifted by %d s (CLOCK_OFFSET_SECONDS)", settings.clock_offset_seconds)

        def clock() -> datetime:
            return utc_now() + offset
    from shared.adapters.legs import TableLegStore
    from shared.adapters.voicemails import TABLE_NAME as VOICEMAILS, TableVoicemailStore

    store = TableCallStore(_table_client(settings))
    return Services(settings=settings, rules=rules, store=store, control=AcsCallControl(_acs_client(settings)),
                    clock=clock, callback_verifier=verifier, legs=TableLegStore(store),
                    voicemails=TableVoicemailStore(_table_client(settings, VOICEMAILS)),
                    stats=TableStatsStore(_table_client(settings, STATS_TABLE)))


class LazyCallbackVerifier:
    """The JWT verifier, built on the first callback: a ringing call's first invocation does not pay for
    importing PyJWT and cryptography, which only callbacks need."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._verifier: CallbackVerifier | None = None

    async def verify(self, authorization: str | None) -> None:
        if self._verifier is None:
            from shared.adapters.callback_auth import JwksCallbackVerifier

            callback = self._settings.callback
            self._verifier = JwksCallbackVerifier(callback.jwks_url, callback.issuer, self._settings.acs.resource_id)
        await self._verifier.verify(authorization)

    @property
    def fetches(self) -> int:
        """How many times the key set was fetched (0 before the first callback)."""
        return getattr(self._verifier, "fetches", 0)


_services: Services | None = None
_loop: asyncio.AbstractEventLoop | None = None


async def get_services() -> Services:
    """The process's services, built on first use; rebuilt if the event loop changed (the clients are bound to it)."""
    global _services, _loop
    loop = asyncio.get_running_loop()
    if _services is None or _loop is not loop:
        _services, _loop = build_services(), loop
    return _services


def reset_services() -> None:
    """Forget the built services so the next use re-reads settings (used when settings change at run time)."""
    global _services, _loop
    _services, _loop = None, None


async def close_services() -> None:
    """Close the clients of the built services (on the loop they were built on) and forget them."""
    services = _services
    reset_services()
    if services is not None:
        await services.store.close()
        await services.control.close()
        if services.voicemails is not None:
            await services.voicemails.close()
        if services.stats is not None:
            await services.stats.close()
