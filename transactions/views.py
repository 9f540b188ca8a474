from django.shortcuts import render

from accounts.decorators import buyer_required


@buyer_required
def orders(request):
    """The buyer's orders (cart, checkout and downloads arrive with the purchase issue)."""
    return render(request, "transactions/orders.html")
