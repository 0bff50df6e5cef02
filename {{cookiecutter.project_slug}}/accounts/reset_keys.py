"""A password-reset key that starts with "-" (its user part empty) made allauth 65.x answer
500: UserTokenForm looked the user up with uidb36=None, and Django's base36_to_int raised a
TypeError, which allauth does not catch (only ValueError). `make fuzz` found it. Here such
a key is what any other wrong key is: allauth's 400, `invalid_password_reset`. Drop this
once allauth checks the user part itself."""

from typing import Any

from allauth.account.forms import UserTokenForm

allauths_get_user = UserTokenForm._get_user


def get_user_or_none(form: UserTokenForm, uidb36: Any) -> Any:
    if not isinstance(uidb36, str) or not uidb36:
        return None  # no user part: no user
    return allauths_get_user(form, uidb36)


def refuse_keys_without_a_user() -> None:
    UserTokenForm._get_user = get_user_or_none
