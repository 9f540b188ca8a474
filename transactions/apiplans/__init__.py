"""API plans (issue 16): the development plan (free, a daily quota), metered (a price per 1,000 calls with the
buyer's monthly cap, billed monthly) and subscription (a flat monthly price with a rate limit); usage counted in
Redis (transactions.dataapi.metering) and persisted here."""
