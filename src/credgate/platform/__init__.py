"""Protected platform APIs: permissions, request schemas and the NQL selection engine.

This package holds framework-free logic only. Routes, bearer checks and storage live elsewhere
and call into :mod:`credgate.core.permissions`, :mod:`credgate.platform.schemas` and
:mod:`credgate.platform.nql`.
"""
