"""Helpers for a module's native tests (pytest): the module configured as the host would
configure it, batches of events, and request bodies assembled as the host assembles them."""

import json
from typing import Dict, List, Sequence, Tuple, Union

from wit_world.imports import types

from . import Batch, Formatter, Settings

#: What a test host enriches with: host `test-host`, no tags.
ENRICHMENT = types.Enrichment("test-host", "", "0.0.0", [])


class _Text:
    """The host's handle on a batch's text, as a test holds it."""

    def __init__(self, text: str):
        self._text = text

    def read(self) -> str:
        return self._text


def configure(formatter: type, settings: Dict[str, str] = None) -> Formatter:
    """`formatter` configured with `settings` (and the defaults its `info` declares), as a
    destination's `settings` table would configure it."""
    values = list((settings or {}).items())
    return formatter(Settings(values, formatter.info.settings), ENRICHMENT)


def batch(events: Sequence[Union[str, dict]]) -> Batch:
    """`events` (JSON objects, as text or dicts) as a batch: event `n` has id `n` and time
    `2023-11-14T22:13:20Z` plus `n` seconds."""
    texts = [event if isinstance(event, str) else json.dumps(event) for event in events]
    ends, end = [], 0
    for text in texts:
        end += len(text.encode())
        ends.append(end)
    count = len(texts)
    raw = types.Batch(ends, [1_700_000_000_000 + 1000 * n for n in range(count)], [],
                      [0] * count, list(range(count)))
    return Batch(raw, _Text("".join(texts)))


def assemble(payload: types.Payload, batch: Batch) -> bytes:
    """The bytes the host makes of a payload: its pieces, from the batch's text then the
    payload's own text, or the text alone when there are no pieces."""
    if not payload.pieces:
        return payload.text
    space = batch.text_bytes() + payload.text
    return b"".join(space[piece >> 32:piece & 0xFFFF_FFFF] for piece in payload.pieces)


def http_requests(formatted: types.Formatted, batch: Batch) -> List[Tuple[types.HttpRequest, bytes]]:
    """Each HTTP request of an answer, with its body assembled."""
    return [(request.value, assemble(request.value.body, batch)) for request in formatted.requests]
