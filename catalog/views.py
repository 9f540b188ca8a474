from django.shortcuts import render

from accounts.decorators import publisher_required


def catalog_home(request):
    """The public catalog. Search, facets and dataset pages arrive with the discovery issue."""
    return render(request, "catalog/index.html")


@publisher_required
def provider_home(request):
    """The publisher's workspace: their organization's datasets (upload arrives with the next issue)."""
    return render(request, "catalog/provider_home.html")
