"""Alert messages to people: a webhook POST and an e-mail.

The webhook URL is a secret, so the manifest names the environment variable that holds it
(`url_secret`) and the URL never appears in a log or an error. E-mail goes through the SMTP
server the environment names:

    MLOPS_SMTP_HOST      the server (required for e-mail channels)
    MLOPS_SMTP_PORT      its port (default 25; 465 speaks TLS from the start)
    MLOPS_SMTP_STARTTLS  `true` to upgrade the connection with STARTTLS
    MLOPS_SMTP_FROM      the sender (default mlops@<host name>)
    MLOPS_SMTP_USER, MLOPS_SMTP_PASSWORD   a login, when the server asks for one

Each delivery is tried three times, a second apart, when the other side does not answer or
answers with a server error; a refusal (4xx, a rejected recipient) is not retried.
"""

from __future__ import annotations

import json
import os
import smtplib
import socket
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Any

from mlops.errors import MlopsError

ATTEMPTS, PAUSE = 3, 1.0


class DeliveryFailed(MlopsError):
    """An alert could not be delivered."""


def post_webhook(secret: str, payload: dict[str, Any], timeout: float = 10.0) -> None:
    """POST `payload` as JSON to the URL in environment variable `secret`."""
    url = os.environ.get(secret, "").strip()
    if not url:
        raise DeliveryFailed(f"webhook: the secret {secret} is not set in this environment")
    data = json.dumps(payload).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    last = ""
    for attempt in range(ATTEMPTS):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
                return
        except urllib.error.HTTPError as exc:
            last = f"answered {exc.code}"
            if exc.code < 500:
                break
        except (OSError, TimeoutError) as exc:
            last = f"did not answer ({type(exc).__name__})"
        if attempt + 1 < ATTEMPTS:
            time.sleep(PAUSE)
    raise DeliveryFailed(f"webhook {secret}: {last}")


def send_email(to: str, subject: str, text: str) -> None:
    host = os.environ.get("MLOPS_SMTP_HOST", "").strip()
    if not host:
        raise DeliveryFailed(f"e-mail to {to}: MLOPS_SMTP_HOST is not set")
    text = os.environ.get("MLOPS_SMTP_PORT") or "25"  # a workflow passes unset as ""
    if not text.isdigit():
        raise DeliveryFailed(f"e-mail to {to}: MLOPS_SMTP_PORT={text!r} is not a port number")
    port = int(text)
    message = EmailMessage()
    message["From"] = os.environ.get("MLOPS_SMTP_FROM") or f"mlops@{socket.getfqdn()}"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    last = ""
    for attempt in range(ATTEMPTS):
        try:
            _send(host, port, message)
            return
        except smtplib.SMTPResponseException as exc:
            last = f"the server answered {exc.smtp_code}"
            if not 400 <= exc.smtp_code < 500:  # only a 4xx is temporary
                break
        except smtplib.SMTPRecipientsRefused:
            last = "the server refused the recipient"
            break
        except (OSError, smtplib.SMTPException) as exc:
            last = f"{host}:{port} did not answer ({type(exc).__name__})"
        if attempt + 1 < ATTEMPTS:
            time.sleep(PAUSE)
    raise DeliveryFailed(f"e-mail to {to}: {last}")


def _send(host: str, port: int, message: EmailMessage) -> None:
    kind = smtplib.SMTP_SSL if port == 465 else smtplib.SMTP
    with kind(host, port, timeout=15) as smtp:
        if os.environ.get("MLOPS_SMTP_STARTTLS", "").lower() == "true":
            smtp.starttls()
        user = os.environ.get("MLOPS_SMTP_USER")
        if user:
            smtp.login(user, os.environ.get("MLOPS_SMTP_PASSWORD", ""))
        smtp.send_message(message)
