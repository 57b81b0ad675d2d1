"""Commands: the business operations that push events, retried when another writer came first."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

from .errors import EventAlreadyExistsError

StoresT = TypeVar("StoresT", bound=tuple[Any, ...])
InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")


@dataclass(frozen=True, slots=True)
class RetryAttempt:
    """Which attempt of a command just met an `EventAlreadyExistsError`, and how many retries remain."""

    attempt_number: int
    retries_left: int


OnEventAlreadyExists: TypeAlias = Callable[[EventAlreadyExistsError, RetryAttempt], Awaitable[None]]
"""Awaited after each attempt that failed with EventAlreadyExistsError, before the retry (or the raise)."""


class Command(Generic[StoresT, InputT, OutputT]):
    """A handler run against the event stores it requires.

    When the handler raises `EventAlreadyExistsError` (a concurrent writer pushed the same version
    first), it runs again, up to `event_already_exists_retries` more times; a handler reads the aggregate
    afresh on each attempt, so a retry decides on up-to-date state. Other errors propagate at once.
    """

    def __init__(
        self,
        *,
        command_id: str,
        required_event_stores: StoresT,
        handler: Callable[[InputT, StoresT], Awaitable[OutputT]],
        event_already_exists_retries: int = 2,
        on_event_already_exists: OnEventAlreadyExists | None = None,
    ) -> None:
        if event_already_exists_retries < 0:
            raise ValueError(f"command {command_id!r}: event_already_exists_retries cannot be negative")
        self.command_id = command_id
        self.required_event_stores = required_event_stores
        self.event_already_exists_retries = event_already_exists_retries
        self.on_event_already_exists = on_event_already_exists
        self._handler = handler

    def __repr__(self) -> str:
        return f"Command(command_id={self.command_id!r})"

    async def handler(self, input: InputT, event_stores: StoresT) -> OutputT:
        """Runs the command's handler, retrying it on EventAlreadyExistsError."""
        retries_left = self.event_already_exists_retries
        attempt_number = 1
        while True:
            try:
                return await self._handler(input, event_stores)
            except EventAlreadyExistsError as error:
                if self.on_event_already_exists is not None:
                    await self.on_event_already_exists(error, RetryAttempt(attempt_number, retries_left))
                if retries_left == 0:
                    raise
                retries_left -= 1
                attempt_number += 1
