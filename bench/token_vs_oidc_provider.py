"""Token endpoint vs node-oidc-provider: ``python bench/token_vs_oidc_provider.py [--help]``."""

from credgate.bench.oidc_provider import cli

if __name__ == "__main__":
    cli()
