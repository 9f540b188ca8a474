"""Editing a row through the real Django admin, as a platform admin does in a browser: the change page is read, its
form (and its inlines) sent back with the given fields changed, and the redirect of a successful save expected."""

import datetime as dt

from django import forms
from django.contrib.admin.helpers import InlineAdminFormSet
from django.urls import reverse
from django.utils import timezone


def _field_data(form, data: dict) -> None:
    for name, field in form.fields.items():
        key = form.add_prefix(name)
        value = form[name].value()
        if isinstance(field, forms.SplitDateTimeField):
            if isinstance(value, dt.datetime):
                local = timezone.localtime(value) if timezone.is_aware(value) else value
                data[f"{key}_0"], data[f"{key}_1"] = local.date().isoformat(), local.time().isoformat()
            continue
        if isinstance(field, forms.BooleanField):
            if value:
                data[key] = "on"
            continue
        if value is None:
            data[key] = ""
        elif isinstance(value, (list, tuple)):
            data[key] = [str(v) for v in value]
        else:
            data[key] = str(getattr(value, "pk", value))


def admin_change(client, obj, **changes):
    """Save `obj` through its admin change page with `changes` (field name → value as the form takes it)."""
    meta = obj._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    data: dict = {}
    _field_data(page.context["adminform"].form, data)
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset if isinstance(inline, InlineAdminFormSet) else inline
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = str(management[name].value())
        for form in formset.forms:
            _field_data(form, data)
    data.update({name: str(getattr(value, "pk", value)) for name, value in changes.items()})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    return response
