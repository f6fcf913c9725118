"""Sluice's helper for formatter modules written in Python.

A module is a class derived from `Formatter`, exported with `Formatting = export(MyFormatter)`
in the module's `app.py`; `componentize-py -d wit -w formatter componentize app -o NAME.wasm`
builds it. The types a module answers with are the contract's own, generated from
`wit/sluice.wit` by componentize-py (`wit_world.imports.types`), so this package never
disagrees with the host about them: it only adds the rules the Rust SDK (`sluice-guest`)
follows, under the same names, so that modules in either language answer alike.

The host validated every event as a UTF-8 JSON object. A batch's text crosses into the
module only when the module reads an event (`Event.json`); a module that places events
whole uses `PayloadBuilder.push_event`, and their bytes never enter Python.
"""

import json
import sys
import traceback
from typing import Iterator, List, Optional, Sequence, Tuple

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types
from wit_world.imports.types import (  # noqa: F401  (what a module answers with)
    AckState,
    AuthHeader,
    BatchLimits,
    Compression,
    ConnectionCheck,
    Enrichment,
    Formatted,
    HttpRequest,
    HttpResponse,
    Info,
    Payload,
    Query,
    Refusal,
    Request_Http,
    SentRequest,
    SettingDoc,
    Transport,
    Verdict,
    Verdict_Delivered,
    Verdict_Refused,
    Verdict_Retry,
    Verdict_TooLarge,
    RetryAdvice,
)

__all__ = [
    "AuthHeader", "Batch", "Compression", "Enrichment", "Event", "FormatError", "Formatted",
    "Formatter", "HttpRequest", "HttpResponse", "Info", "PayloadBuilder", "Refusal",
    "SettingDoc", "Settings", "Verdict", "bearer", "cef_extension_value", "cef_header",
    "export", "http_info", "http_request", "json_string", "log", "single_line",
    "syslog_sd_value", "verdict_from_status",
]


# --- Settings --------------------------------------------------------------------------


class FormatError(Exception):
    """What `configure` or `format` raises for the host: a bad setting (`FormatError.setting`)
    is reported before any event; any other failure keeps the batch, which is retried."""

    def __init__(self, error: "types.FormatError"):
        super().__init__(error)
        self.error = error

    @staticmethod
    def setting(key: str, problem: str) -> "FormatError":
        return FormatError(types.FormatError_InvalidSetting(types.SettingProblem(key, problem)))

    @staticmethod
    def failed(reason: str) -> "FormatError":
        return FormatError(types.FormatError_Failed(reason))


class Settings:
    """A destination's settings; the host has already refused keys the module does not declare."""

    def __init__(self, values: Sequence[Tuple[str, str]], docs: Sequence[SettingDoc]):
        self._values = list(values)
        self._docs = list(docs)

    def get(self, key: str) -> Optional[str]:
        """The configured value (the last one given), else the declared default."""
        for name, value in reversed(self._values):
            if name == key:
                return value
        return next((doc.default_value for doc in self._docs if doc.name == key), None)

    def text(self, key: str) -> Optional[str]:
        """The value when it is not blank: how a module reads a text setting."""
        value = self.get(key)
        return value if value is not None and value.strip() else None

    def require(self, *keys: str) -> None:
        """Raises one error naming every key without a value, so a user fixes all at once."""
        missing = [key for key in keys if self.text(key) is None]
        if len(missing) == 1:
            raise FormatError.setting(missing[0], "required")
        if missing:
            rest = ", ".join(f"`{key}`" for key in missing[1:])
            raise FormatError.setting(missing[0], f"required (missing too: {rest})")

    def flag(self, key: str) -> bool:
        """A boolean: `true`/`false`, also `yes`/`no`, `on`/`off`, `1`/`0`; absent is false."""
        value = self.get(key)
        if value in (None, "false", "no", "off", "0"):
            return False
        if value in ("true", "yes", "on", "1"):
            return True
        raise FormatError.setting(key, f"`{value}` is not a boolean (use true or false)")


# --- Batches ---------------------------------------------------------------------------


class Event:
    """One event of a batch: its place (`index`, and `start`..`end` in the batch's text),
    time, id, and its JSON text on demand."""

    __slots__ = ("_batch", "index", "start", "end")

    def __init__(self, batch: "Batch", index: int, start: int, end: int):
        self._batch, self.index, self.start, self.end = batch, index, start, end

    @property
    def json(self) -> str:
        """The event's JSON object, as the producer wrote it."""
        return self._batch.text_bytes()[self.start:self.end].decode()

    def field(self, path: str):
        """The value at a dotted path (`actor.id`), or None. Parses the whole event."""
        value = json.loads(self.json)
        if path in value:
            return value[path]
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value

    @property
    def time_ms(self) -> int:
        """The event's time in milliseconds since the Unix epoch (UTC)."""
        return self._batch.raw.times_ms[self.index]

    @property
    def ingest_time(self) -> bool:
        """Whether the host assigned the time at ingest (no time field held one)."""
        return self.index in self._batch.ingest_times

    @property
    def id(self) -> int:
        """The event's 128-bit id: the same for a redelivered event, for de-duplication."""
        return (self._batch.raw.ids_high[self.index] << 64) | self._batch.raw.ids_low[self.index]

    @property
    def id_hex(self) -> str:
        """The id as 32 lowercase hex digits, as the built-in modules write it."""
        return f"{self.id:032x}"


class Batch:
    """The events of one `format` call. Their text is read from the host once, on the
    first `Event.json`."""

    def __init__(self, raw: "types.Batch", text: "types.EventText"):
        self.raw = raw
        self._text = text
        self._bytes: Optional[bytes] = None
        self.ingest_times = frozenset(raw.ingest_times)

    def __len__(self) -> int:
        return len(self.raw.ends)

    @property
    def text_len(self) -> int:
        """Bytes of the batch's event text (a payload's own text starts after it)."""
        return self.raw.ends[-1] if self.raw.ends else 0

    def text_bytes(self) -> bytes:
        if self._bytes is None:
            self._bytes = self._text.read().encode()
        return self._bytes

    def events(self) -> Iterator[Event]:
        start = 0
        for index, end in enumerate(self.raw.ends):
            yield Event(self, index, start, end)
            start = end

    def all_indices(self) -> List[int]:
        """Every event's index: what a request that carries the whole batch lists."""
        return list(range(len(self)))


class PayloadBuilder:
    """A request body or run of messages made of pieces: the module's own bytes, written
    once, and events placed by their range in the batch's text, never copied."""

    def __init__(self, batch: Batch):
        self._base = batch.text_len
        self._text = bytearray()
        self._pieces: List[int] = []

    def push(self, data) -> None:
        """Appends the module's own bytes (a `str` is written as UTF-8)."""
        if isinstance(data, str):
            data = data.encode()
        if not data:
            return
        start = self._base + len(self._text)
        self._text += data
        end = self._base + len(self._text)
        if self._pieces and self._pieces[-1] & 0xFFFF_FFFF == start:
            self._pieces[-1] = (self._pieces[-1] & ~0xFFFF_FFFF) | end  # extends the last piece
        else:
            self._pieces.append((start << 32) | end)

    def push_event(self, event: Event) -> None:
        """Appends an event's JSON by its range in the batch's text."""
        self._pieces.append((event.start << 32) | event.end)

    def finish(self) -> Payload:
        return Payload(bytes(self._text), self._pieces)


# --- Escaping, the same rules as the Rust SDK's --------------------------------------------


def json_string(text: str) -> str:
    """`text` as a JSON string, quotes included: `"` and `\\` escaped, every control
    character as `\\n`-style or `\\u00XX`, the rest as is (byte for byte what serde_json
    and JavaScript's JSON.stringify write)."""
    return json.dumps(text, ensure_ascii=False)


def _breaks_a_line(c: str) -> bool:
    code = ord(c)
    return code < 0x20 or 0x7F <= code <= 0x9F or c in "\u2028\u2029"


def _escape(text: str, needs, write) -> str:
    if not any(needs(c) for c in text):
        return text
    return "".join(write(c) if needs(c) else c for c in text)


def cef_header(text: str) -> str:
    """A CEF header field: `\\` and `|` escaped, line breaks and other controls a space."""
    return _escape(text, lambda c: c in "\\|" or _breaks_a_line(c),
                   lambda c: "\\" + c if c in "\\|" else " ")


def cef_extension_value(text: str) -> str:
    """A CEF extension value: `\\` and `=` escaped, CR and LF as `\\r` and `\\n`, other
    controls a space."""
    special = {"\\": "\\\\", "=": "\\=", "\n": "\\n", "\r": "\\r"}
    return _escape(text, lambda c: c in special or _breaks_a_line(c),
                   lambda c: special.get(c, " "))


def syslog_sd_value(text: str) -> str:
    """An RFC 5424 SD-PARAM value: `"`, `\\` and `]` escaped, controls a space."""
    return _escape(text, lambda c: c in '"\\]' or _breaks_a_line(c),
                   lambda c: "\\" + c if c in '"\\]' else " ")


def single_line(text: str) -> str:
    """Text for a line-framed output with no escapes (a syslog MSG): controls a space."""
    return _escape(text, _breaks_a_line, lambda c: " ")


# --- Answers -----------------------------------------------------------------------------


def http_info(name: str, version: str, *, settings: Sequence[SettingDoc] = (),
              auth: Optional[AuthHeader] = None, max_events: int = 500,
              max_bytes: int = 1_000_000) -> Info:
    """An HTTP module's description, with the host's default batch limits."""
    return Info(name, version, Transport.HTTP, BatchLimits(max_events, max_bytes), auth, None,
                list(settings))


def bearer() -> AuthHeader:
    """`Authorization: Bearer <token>`: the host adds the destination's token; the module
    never sees it."""
    return AuthHeader("Authorization", "Bearer ", False)


def http_request(method: str, path: str, body: Payload, events: List[int], *,
                 headers: Sequence[Tuple[str, str]] = (),
                 compression: Compression = Compression.NONE) -> Request_Http:
    """One HTTP request carrying `events` (indices in the batch, in body order)."""
    return Request_Http(HttpRequest(method, path, list(headers), body, compression, events))


def verdict_from_status(response: HttpResponse) -> Verdict:
    """What an HTTP status alone says: 2xx delivered; 408, 429 and 5xx retried (after
    `Retry-After` seconds when given); 413 too large; any other refused."""
    status = response.status
    if 200 <= status <= 299:
        return Verdict_Delivered()
    if status == 413:
        return Verdict_TooLarge()
    if status in (408, 429) or 500 <= status <= 599:
        return Verdict_Retry(RetryAdvice(f"HTTP {status}", _retry_after_ms(response)))
    body = response.body.decode(errors="replace")
    return Verdict_Refused(f"HTTP {status}: {body}")


def _retry_after_ms(response: HttpResponse) -> Optional[int]:
    for name, value in response.headers:
        if name.lower() == "retry-after":
            try:
                return min(int(value.strip()) * 1000, 0xFFFF_FFFF)
            except ValueError:
                return None
    return None


def log(level: str, message: str) -> None:
    """Writes to the host's log (`trace`, `debug`, `info`, `warn`, `error`), tagged with
    the module's name; to stderr when the module runs natively, in its tests."""
    try:
        host.log(host.Level[level.upper()], message)
    except NotImplementedError:
        print(f"{level}: {message}", file=sys.stderr)


# --- The module's exports --------------------------------------------------------------------


class Formatter:
    """What a module implements: `info` (a class attribute, from `http_info`), `__init__`
    with the destination's settings and the host's enrichment (raise `FormatError.setting`
    for a bad one), and `format`. `classify` and the rest have defaults."""

    info: Info

    def __init__(self, settings: Settings, enrichment: Enrichment):
        pass

    def format(self, batch: Batch) -> Formatted:
        raise NotImplementedError

    def classify(self, response: HttpResponse, request: SentRequest) -> Verdict:
        return verdict_from_status(response)

    def connection_check(self) -> Optional[ConnectionCheck]:
        return None

    def ack_query(self, tickets: List[str]) -> Optional[Query]:
        return None

    def read_acks(self, response: HttpResponse, tickets: List[str]) -> List[AckState]:
        raise Err("this module never answers `pending`, so it has no acknowledgements to read")


def export(formatter: type) -> type:
    """The class componentize-py exports as the contract's `formatting` interface: assign
    it to `Formatting` in `app.py`. It holds the one configured formatter of the instance."""

    def call(action):
        """Runs `action`; what it raises becomes the host's format error, named, where the
        runtime would otherwise trap with no word of it (the module has no stderr)."""
        try:
            return action()
        except FormatError as error:
            raise Err(error.error)
        except Err:
            raise  # the contract's own error, raised as the generated bindings say
        except Exception as error:
            failed = f"{type(error).__name__}: {error}"
            log("error", f"{failed}\n{traceback.format_exc(limit=8)}")
            raise Err(types.FormatError_Failed(failed))

    class Formatting(exports.Formatting):
        configured: Optional[Formatter] = None

        def describe(self) -> Info:
            return formatter.info

        def configure(self, settings, enrichment) -> None:
            values = Settings(settings, formatter.info.settings)
            Formatting.configured = call(lambda: formatter(values, enrichment))

        def format(self, batch, text) -> Formatted:
            return call(lambda: self._formatter().format(Batch(batch, text)))

        def classify(self, response, request) -> Verdict:
            try:
                return self._formatter().classify(response, request)
            except Exception:
                # No error to answer with: the call fails, its reason in the host's log.
                log("error", f"classify failed:\n{traceback.format_exc(limit=8)}")
                raise

        def check_connection(self):
            return self._formatter().connection_check()

        def ack_query(self, tickets):
            return self._formatter().ack_query(tickets)

        def read_acks(self, response, tickets):
            return self._formatter().read_acks(response, tickets)

        @staticmethod
        def _formatter() -> Formatter:
            if Formatting.configured is None:
                raise RuntimeError("the host calls `configure` first")
            return Formatting.configured

    return Formatting
