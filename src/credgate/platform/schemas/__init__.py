"""Request parsers and response builders of the protected platform APIs, one module per family.

Each parser takes raw bytes, text or a decoded JSON value and returns a typed request, or raises
:class:`RequestError` whose ``status`` and ``body`` are the family's documented error answer.
"""

from credgate.platform.schemas._common import Problem, RequestError

__all__ = ["Problem", "RequestError"]
