"""Admin lists with 100k API credentials: ``python bench/lists.py [--count N]``."""

from credgate.bench.lists import cli

if __name__ == "__main__":
    cli()
