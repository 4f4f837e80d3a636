"""The base of every pydantic model of Utio: its validator and serializer are built the
first time the model is used, not when its module is imported. A cold start then pays only
for the models its first request needs (the API declares about 170), and validation and the
JSON schema are the same as with models built at once."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)
