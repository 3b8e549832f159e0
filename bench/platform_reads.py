"""Platform reads vs the smallest route on one server: ``python bench/platform_reads.py``."""

from credgate.bench.reads import cli

if __name__ == "__main__":
    cli()
