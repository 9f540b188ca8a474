"""Every write of the transactions app, by sub-domain: cart.py, orders.py (here); payments in
transactions/payments/services.py; packages and downloads in transactions/delivery/services.py."""
