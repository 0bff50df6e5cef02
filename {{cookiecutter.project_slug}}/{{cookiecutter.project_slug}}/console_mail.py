"""The console email backend (consolemail://, the default with DEBUG on), printing each line
whole. Django 6's email API wraps every line over 78 characters in quoted-printable, with an
"=" at each break, so the link of a verification or reset email came out cut in two in the
log. Lines up to RFC 5322's 998 characters are left whole here; what SMTP sends is unchanged.
"""

import email.policy

import django
from django.core.mail import EmailMessage
from django.core.mail.backends import console

WHOLE_LINES = email.policy.default.clone(max_line_length=998)


class EmailBackend(console.EmailBackend):
    def write_message(self, message: EmailMessage) -> None:
        if django.VERSION < (6, 0):  # its email API leaves lines up to 998 whole already
            super().write_message(message)
            return
        text = message.message(policy=WHOLE_LINES).as_bytes().decode()
        self.stream.write(f"{text}\n{'-' * 79}\n")
