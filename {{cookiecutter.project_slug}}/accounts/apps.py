from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the receivers)
        from .reset_keys import refuse_keys_without_a_user

        refuse_keys_without_a_user()
