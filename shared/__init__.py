"""The code the functions and the device runner share."""

import os

# Utio installs no pydantic plugins, so pydantic need not look for them: it would otherwise
# read the entry points of every installed package when it builds its first validator,
# about 10 ms of each cold start (more on a busy machine). An operator's own value is kept.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
