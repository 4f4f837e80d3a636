"""A device's WhatsApp profile: its name, description and image, set through the runner."""

from __future__ import annotations

import base64

from shared.deps import Deps
from shared.services.devices import get_device, require_connected


def update_profile(deps: Deps, account_id: str, device_id: str, *, name: str | None,
                   description: str | None, image: bytes | None) -> dict:
    clock, devices = deps.clock, deps.repos.devices
    device = get_device(deps, account_id, device_id)
    require_connected(device)
    payload = {"device_id": device.id, "name": name, "description": description,
               "image": base64.b64encode(image).decode() if image is not None else None}
    deps.runner_rpc.call("profile", payload)
    profile = dict((devices.doc(device.id) or {}).get("profile") or {})
    if name is not None:
        profile["name"] = name
    if description is not None:
        profile["description"] = description
    if image is not None:
        profile["image_updated_at"] = clock.now()
    profile["updated_at"] = clock.now()
    devices.update(device.id, {"profile": profile})
    return profile
