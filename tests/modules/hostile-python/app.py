"""A module that tries what the sandbox must stop, by its `act` setting: `loop` forever,
take `memory` without end, read a `file` of the host, or open a `socket` to `port` on
loopback. What a blocked attempt raised is its events' refusal reason, so a test sees it."""

import socket

from sluice_module import (FormatError, Formatted, Formatter, PayloadBuilder, Refusal, SettingDoc,
                           export, http_info, http_request)


class Hostile(Formatter):
    info = http_info("hostile", "0.1.0", settings=[SettingDoc("act", "what to try", None),
                                                    SettingDoc("port", "a port on loopback", "9")])

    def __init__(self, settings, enrichment):
        self.act = settings.text("act")
        self.port = int(settings.get("port"))
        if self.act not in ("loop", "memory", "file", "socket"):
            raise FormatError.setting("act", "one of loop, memory, file, socket")

    def format(self, batch):
        if is_the_hosts_trial(batch):
            return Formatted([], [])
        if self.act == "loop":
            while True:
                pass
        if self.act == "memory":
            hoard = []
            while True:
                hoard.append(bytearray(1 << 20))
        try:
            if self.act == "file":
                with open("/etc/passwd") as file:
                    leaked = file.read()
            else:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as connection:
                    connection.connect(("127.0.0.1", self.port))
                    leaked = f"connected to {connection.getpeername()}"
        except Exception as error:
            reason = f"{self.act} blocked: {type(error).__name__}: {error}"
            return Formatted([], [Refusal(event.index, reason) for event in batch.events()])
        # Not reached in the sandbox: what the module got out, sent where a test sees it.
        body = PayloadBuilder(batch)
        body.push(leaked)
        return Formatted([http_request("POST", "/leak", body.finish(), batch.all_indices())], [])


def is_the_hosts_trial(batch):
    """The one sample event the host formats before it starts a destination: answered
    well, so that the act shows on the events of the run, as a module only some input
    breaks would."""
    return len(batch) == 1 and '"event_type":"sluice.check"' in next(batch.events()).json


Formatting = export(Hostile)
