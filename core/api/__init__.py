"""What every API view shares: the one error shape, pagination, throttles and validation in both languages.

Nothing here knows an app: accounts.api adds the tokens and scopes, each app's api package its resources."""
