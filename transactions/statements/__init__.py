"""Monthly provider statements and payouts, read from the ledger (transactions.ledger): models, selectors,
services and the provider's and the platform admins' pages."""
