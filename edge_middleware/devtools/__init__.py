"""Layer 7: what a developer runs: the dev server, the CLI, the request inspector, the console
and access logs, and the pytest plugin."""
