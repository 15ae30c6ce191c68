"""Create the demo's Home Assistant owner and mark onboarding done, before the first start.

Run by scripts/demo with the venv's Python: ``python demo_owner.py CONFIG_DIR USERNAME PASSWORD``.

It does what Home Assistant's onboarding user step does (an admin user who is the owner,
because it is the first non-system user, with username and password credentials and a
person), then stores every onboarding step as done. ``hass --script auth add`` is not
enough: it only stores credentials, and the user it makes at first login is no owner.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
import sys

from homeassistant import runner
from homeassistant.auth import auth_manager_from_config
from homeassistant.auth.const import GROUP_ID_ADMIN
from homeassistant.auth.providers import homeassistant as hass_auth
from homeassistant.components.onboarding import (
    STORAGE_KEY as ONBOARDING_KEY,
    STORAGE_VERSION as ONBOARDING_VERSION,
)
from homeassistant.components.onboarding.const import STEPS
from homeassistant.components.person import (
    STORAGE_KEY as PERSON_KEY,
    STORAGE_VERSION as PERSON_VERSION,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.storage import Store


async def create_owner(config_dir: str, username: str, password: str) -> str:
    """Create the owner (unless one exists) and finish onboarding; return what was done."""
    hass = HomeAssistant(config_dir)
    await asyncio.gather(dr.async_load(hass), er.async_load(hass))
    hass.auth = await auth_manager_from_config(hass, [{"type": "homeassistant"}], [])
    provider = hass.auth.auth_providers[0]
    assert isinstance(provider, hass_auth.HassAuthProvider)
    await provider.async_initialize()

    done = "owner already present"
    if not any(user.is_owner for user in await hass.auth.async_get_users()):
        name = username.capitalize()
        user = await hass.auth.async_create_user(name, group_ids=[GROUP_ID_ADMIN])
        if not user.is_owner:
            raise SystemExit("demo_owner: Home Assistant did not make the new user the owner")
        await provider.async_add_auth(username, password)
        credentials = await provider.async_get_or_create_credentials({"username": username})
        await hass.auth.async_link_user(user, credentials)
        person_store: Store[dict[str, object]] = Store(hass, PERSON_VERSION, PERSON_KEY)
        if await person_store.async_load() is None:
            await person_store.async_save(
                {
                    "items": [
                        {
                            "id": username,
                            "name": name,
                            "user_id": user.id,
                            "device_trackers": [],
                            "picture": None,
                        }
                    ]
                }
            )
        done = f"created owner {username!r}"

    onboarding: Store[dict[str, list[str]]] = Store(
        hass, ONBOARDING_VERSION, ONBOARDING_KEY, private=True
    )
    await onboarding.async_save({"done": list(STEPS)})

    # The auth store saves with a delay, on the final-write stage of a stop; this Home
    # Assistant never started, so only a forced stop runs that stage.
    await hass.async_stop(force=True)
    return f"{done}, onboarding marked done"


def _check_saved(config_dir: str, username: str) -> None:
    """Fail unless the stored users include an owner (what onboarding looks for)."""
    auth = json.loads(Path(config_dir, ".storage", "auth").read_text(encoding="utf-8"))
    if not any(user.get("is_owner") for user in auth["data"]["users"]):
        raise SystemExit(
            f"demo_owner: no owner in {config_dir}/.storage/auth after creating {username!r}"
        )


def main() -> None:
    """Parse the arguments and run."""
    if len(sys.argv) != 4:
        raise SystemExit(f"usage: {sys.argv[0]} CONFIG_DIR USERNAME PASSWORD")
    config_dir, username, password = sys.argv[1:]
    asyncio.set_event_loop_policy(runner.HassEventLoopPolicy(False))
    done = asyncio.run(create_owner(config_dir, username, password))
    _check_saved(config_dir, username)
    print(f"demo: {done}")


if __name__ == "__main__":
    main()
