"""Bearer protection vs the same handler unprotected: ``python bench/bearer.py``."""

from credgate.bench.bearer import cli

if __name__ == "__main__":
    cli()
