"""`{name}`: a Sluice module. Each batch becomes one POST of newline-delimited JSON (the
events unchanged) to the `path` setting, with the destination's token as a bearer token.
Change `format` to write what your destination reads."""

from sluice_module import (Compression, FormatError, Formatted, Formatter, PayloadBuilder,
                           SettingDoc, bearer, export, http_info, http_request)


class Module(Formatter):
    info = http_info(
        "{name}", "0.1.0",
        settings=[SettingDoc("path", "where the events are posted", "/ingest")],
        auth=bearer(),
    )

    def __init__(self, settings, enrichment):
        """The formatter of one destination, made from its settings: raise
        `FormatError.setting` for one it cannot use, before any event."""
        self.path = settings.text("path") or ""
        if not self.path.startswith("/"):
            raise FormatError.setting("path", "must start with `/`")

    def format(self, batch):
        body = PayloadBuilder(batch)
        for event in batch.events():
            body.push_event(event)  # placed by the host: never copied into Python
            body.push("\n")
        request = http_request(
            "POST", self.path, body.finish(), batch.all_indices(),
            headers=[("Content-Type", "application/x-ndjson")],
            compression=Compression.GZIP,
        )
        return Formatted([request], [])

    # `classify` reads the answer; the default knows HTTP status codes (2xx delivered;
    # 408, 429 and 5xx retried; 413 split; any other refused).


# What componentize-py exports as the contract's `formatting` interface.
Formatting = export(Module)
