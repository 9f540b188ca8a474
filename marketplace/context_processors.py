from django.conf import settings
from django.utils.translation import get_language

from accounts.permissions import is_platform_admin


def site(request):
    lang = get_language() or settings.LANGUAGE_CODE
    op = settings.OPERATOR
    return {
        "operator": {
            "name": op["name_en"] if lang == "en" else op["name_ko"],
            "address": op["address_en"] if lang == "en" else op["address_ko"],
            "phone": op["phone"],
            "email": op["email"],
            "brn": op["brn"],
        },
        # Only those who may open the mailbox see the link (the launcher's key holder has it in the console).
        "dev_mailbox_enabled": settings.DEV_MAILBOX and is_platform_admin(getattr(request, "user", None)),
    }
