# An SMTP server for tests (started by smtp-sink.ts through `python3 -m aiosmtpd -c smtp_sink.JsonSink <dir>`): each
# message it accepts is written to <dir> as one JSON file with its envelope and decoded parts, which the tests read.
import json
import os
import uuid
from email import message_from_bytes
from email.policy import default


class JsonSink:
    def __init__(self, folder):
        self.folder = folder

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("JsonSink needs the folder to write messages to")
        return cls(args[0])

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        record = {
            "mailFrom": envelope.mail_from,
            "rcptTos": envelope.rcpt_tos,
            "subject": msg["subject"],
            "from": msg["from"],
            "to": msg["to"],
            "contentType": msg.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }
        name = os.path.join(self.folder, f"{uuid.uuid4().hex}.json")
        # Written under another name first: a reader never sees half a file.
        with open(name + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(name + ".tmp", name)
        return "250 Message accepted for delivery"
