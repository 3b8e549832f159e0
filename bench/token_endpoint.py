"""Token endpoint benchmark: ``python bench/token_endpoint.py`` (or ``credgate bench token``)."""

from credgate.bench.token import main

if __name__ == "__main__":
    main()
