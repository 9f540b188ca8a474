from django.conf import settings
from django.utils.translation import get_language


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
        "dev_mailbox_enabled": settings.DEV_MAILBOX,
    }
