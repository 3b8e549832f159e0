"""A throwaway credgate for integrators' own tests.

`Sandbox` starts a real credgate on a free loopback port with a fresh SQLite database in a
temporary directory (uvicorn in a background thread of the calling process), creates API
credentials with the permissions a test asks for, seeds definitions through
`container.definitions`, and hands out ready `credgate.client` clients.

```
from credgate.testing import Sandbox

with Sandbox() as sandbox:
    sandbox.seed()                     # sample workflows, remote actions, queries, campaigns
    with sandbox.client(permissions=["workflows"]) as client:
        assert client.list_workflows()
```

Under pytest the plugin `credgate.testing.pytest_plugin` offers the same as fixtures.
"""

from __future__ import annotations

from ._sandbox import (
    ALL_PERMISSIONS,
    SAMPLE_DEFINITIONS,
    Sandbox,
    SandboxCredential,
)

__all__ = ["ALL_PERMISSIONS", "SAMPLE_DEFINITIONS", "Sandbox", "SandboxCredential"]
