"""An example module in Python: Grafana Loki's push API (`POST /loki/api/v1/push`, JSON),
the same module as the Rust `examples/modules/loki`, byte for byte.

Each batch is one request of one stream, labelled `job` (a setting), whose values are
`[nanoseconds, line]` pairs: the event's time and its JSON as the log line. 204 on
success; 429 and 5xx retried; any other status refused (the SDK's default `classify`).
A multi-tenant Loki reads the tenant from `X-Scope-OrgID`.
"""

from sluice_module import (Compression, FormatError, Formatted, Formatter, PayloadBuilder,
                           SettingDoc, bearer, export, http_info, http_request, json_string)


class Loki(Formatter):
    info = http_info(
        "loki", "0.1.0",
        settings=[
            SettingDoc("job", "the stream's `job` label", "sluice"),
            SettingDoc("tenant", "X-Scope-OrgID, for a multi-tenant Loki", None),
        ],
        # The host adds the destination's `token`; the module never sees it.
        auth=bearer(),
    )

    def __init__(self, settings, enrichment):
        self.job = settings.text("job")
        if self.job is None:
            raise FormatError.setting("job", "a label cannot be empty")
        self.tenant = settings.text("tenant")

    def format(self, batch):
        body = PayloadBuilder(batch)
        body.push('{"streams":[{"stream":{"job":' + json_string(self.job) + '},"values":[')
        for event in batch.events():
            comma = "," if event.index else ""
            # The event as one escaped string: the line Loki stores.
            body.push(f'{comma}["{event.time_ms * 1_000_000}",{json_string(event.json)}]')
        body.push("]}]}")
        headers = [("Content-Type", "application/json")]
        if self.tenant is not None:
            headers.append(("X-Scope-OrgID", self.tenant))
        request = http_request("POST", "/loki/api/v1/push", body.finish(), batch.all_indices(),
                               headers=headers, compression=Compression.GZIP)
        return Formatted([request], [])


Formatting = export(Loki)
