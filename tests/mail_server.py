"""A real SMTP server (aiosmtpd) on a free local port, started by the test: the portal's email
goes through Django's SMTP backend to it, and the test reads what arrived."""
import email
import email.policy
import threading
import time

from aiosmtpd.controller import Controller


class Inbox:
    """What the server received: one ``email.message.EmailMessage`` per message, with its
    envelope recipients in ``message["X-Envelope-To"]``."""

    def __init__(self):
        self.messages = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["X-Envelope-To"]]

    def wait_for(self, address: str, count: int = 1, *, timeout_s: float = 60) -> list:
        """The messages to ``address`` once ``count`` have arrived; AssertionError if they have
        not within ``timeout_s`` (a hang guard, not a measure)."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while len(self.to(address)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{count} email(s) to {address} did not arrive; got {len(self.to(address))}")
                self._arrived.wait(left)
        return self.to(address)


def start_smtp_server(port: int) -> tuple[Controller, Inbox]:
    """The server listening on 127.0.0.1:``port`` (its own thread) and its inbox; the caller stops it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox
