"""Cold vs hot clients at the token endpoint: ``python bench/token_cold.py [--clients N]``."""

from credgate.bench.cold import cli

if __name__ == "__main__":
    cli()
