"""The data API and SQL panel of a dataset page: `{% load dataapi %}{% dataapi_panel dataset version %}`.

Registered by transactions so the catalog's page needs no import of transactions (the dependency runs one way).
Renders a placeholder that loads the panel (transactions.dataapi.panel) right after the page, with htmx: the page
itself makes no query for it. Without JavaScript the placeholder links to the dataset's tables as JSON."""

from django import template
from django.urls import reverse

register = template.Library()


@register.inclusion_tag("transactions/dataapi/_panel_lazy.html", takes_context=True)
def dataapi_panel(context, dataset, version=None):
    return {
        "request": context["request"],
        "panel_url": reverse("api-data-panel", args=(dataset.slug,)),
        "dataset_api_url": reverse("api-data-dataset", args=(dataset.slug,)),
    }
