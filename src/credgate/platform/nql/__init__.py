"""The NQL selection engine, its renderers (v1/v2 JSON, CSV) and the export writer."""
