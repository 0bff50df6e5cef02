"""consolemail:// (the default with DEBUG on) prints each line of an email whole, so that the
link in a verification or reset email can be copied from the server's log."""

import os
import sys

from .processes import run_in_project

LINK = "http://127.0.0.1:8000/account/verify-email/MQ%3A1vZkQe%3A" + "x7" * 30
SEND = """
import sys
import django
django.setup()
from django.core.mail import EmailMultiAlternatives
link = sys.argv[1]
message = EmailMultiAlternatives("Confirm", f"Confirm your address:\\n\\n{link}\\n", to=["a@b.c"])
message.attach_alternative(f'<p>Confirm: <a href="{link}">{link}</a></p>', "text/html")
message.send()
"""


def test_the_console_prints_an_emailed_link_whole() -> None:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "{{ cookiecutter.project_slug }}.settings",
        "DEBUG": "true",
        "SECRET_KEY": "k" * 50,
        "EMAIL_URL": "consolemail://",
    }
    result = run_in_project([sys.executable, "-c", SEND, LINK], environment)

    assert result.returncode == 0, result.stderr
    assert result.stdout.count(LINK) == 3, result.stdout  # the text's, twice in the HTML
    assert "quoted-printable" not in result.stdout, result.stdout
