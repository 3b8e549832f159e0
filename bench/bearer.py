"""Bearer protection vs the same handler unprotected: ``python bench/bearer.py``."""

from credgate.bench.reads import bearer_cli as cli

if __name__ == "__main__":
    cli()
