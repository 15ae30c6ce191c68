"""The counter panel's websocket commands, as counter staff who are not administrators use them.

A real websocket connection to the test Home Assistant for each kind of user: an administrator,
a counter clerk the site's options name (not an administrator) and a user who is neither. The
clerk finds patrons by ID, card or name and sees them in full; every action takes the staff
path of the same name; anyone else is refused by every command, and the services stay for
administrators.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
import hashlib
import json
import logging
from pathlib import Path
import re
from typing import Any

from homeassistant.auth.const import GROUP_ID_ADMIN, GROUP_ID_USER
from homeassistant.auth.models import User
from homeassistant.components.frontend import DATA_PANELS
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_NAME, EVENT_CALL_SERVICE
from homeassistant.core import Context, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.exceptions import ServiceValidationError, Unauthorized
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_capture_events,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, WebSocketGenerator
import yaml

from custom_components.ntnu_library.const import (
    CONF_COUNTER_STAFF,
    CONF_DEMO_DATA,
    CONF_FLOOR,
    CONF_KIND,
    CONF_LIBRARY,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_RETURN_BOXES,
    CONF_ROOM_ID,
    CONF_SITE_NAME,
    DOMAIN,
    PATRONS_LOCAL,
    SUBENTRY_ROOM,
)
from custom_components.ntnu_library.core.model import month_key
from custom_components.ntnu_library.counter_panel import PANEL_FILE, PANEL_PATH, PANEL_URL
from custom_components.ntnu_library.counter_ws import COMMANDS
from custom_components.ntnu_library.demo import DEMO_ROOMS
from custom_components.ntnu_library.subentries import room_subentry

from .conftest import ACTIVATION_CODE, call_service, patron_action, state_of

SERVICES_YAML: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parents[1] / "custom_components" / DOMAIN / "services.yaml").read_text()
)
type Send = Callable[..., Awaitable[dict[str, Any]]]
CLIENT_ID = "https://counter.example/"


@pytest.fixture
def policy_options(policy_options: dict[str, Any]) -> dict[str, Any]:
    """The site empties the main library's return box."""
    return policy_options | {CONF_RETURN_BOXES: ["main"]}


async def _user(hass: HomeAssistant, name: str, group: str = GROUP_ID_USER) -> User:
    """A user who logs in: in the users' group, or the administrators'."""
    found = await hass.auth.async_get_group(group)
    assert found is not None
    user: User = MockUser(name=name, groups=[found]).add_to_hass(hass)
    return user


async def _client(hass: HomeAssistant, hass_ws_client: WebSocketGenerator, user: User) -> Send:
    refresh = await hass.auth.async_create_refresh_token(user, CLIENT_ID)
    ws = await hass_ws_client(hass, hass.auth.async_create_access_token(refresh))

    async def send(command: str, **fields: Any) -> dict[str, Any]:
        await ws.send_json_auto_id({"type": f"{DOMAIN}/counter/{command}", **fields})
        answer = dict(await ws.receive_json())
        await hass.async_block_till_done(wait_background_tasks=True)
        return answer

    return send


@pytest.fixture
async def clerk(hass: HomeAssistant, init_integration: MockConfigEntry) -> User:
    """A counter clerk: not an administrator, named counter staff in the site's options."""
    user = await _user(hass, "Counter clerk")
    assert not user.is_admin
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_COUNTER_STAFF: [user.id]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert init_integration.options[CONF_COUNTER_STAFF] == [user.id]
    return user


@pytest.fixture
async def staff(hass: HomeAssistant, clerk: User, hass_ws_client: WebSocketGenerator) -> Send:
    """The clerk's websocket."""
    assert await async_setup_component(hass, "websocket_api", {})
    return await _client(hass, hass_ws_client, clerk)


def _result(answer: dict[str, Any]) -> Any:
    assert answer["success"], answer
    return answer["result"]


def _refused(answer: dict[str, Any]) -> str:
    assert not answer["success"], answer
    return str(answer["error"]["code"])


# --- the panel itself ----------------------------------------------------------------------------


async def test_panel_is_in_the_sidebar_for_every_user(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client: ClientSessionGenerator
) -> None:
    """The sidebar entry needs no administrator; its file is served by the integration."""
    panel = hass.data[DATA_PANELS][PANEL_PATH]
    assert panel.require_admin is False
    custom = panel.config["_panel_custom"]
    assert custom["name"] == "ntnu-library-counter"
    assert custom["module_url"].startswith(f"{PANEL_URL}?v=")
    client = await hass_client()
    response = await client.get(custom["module_url"])
    assert response.status == 200
    assert await response.read() == PANEL_FILE.read_bytes()


async def test_options_name_counter_staff(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The option lists the users who log in; a user id that is not one is refused."""
    clerk = await _user(hass, "Clerk")
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    field = next(k for k in result["data_schema"].schema if str(k) == CONF_COUNTER_STAFF)
    choices = result["data_schema"].schema[field].config["options"]
    assert {"value": clerk.id, "label": "Clerk"} in choices
    system = {user.id for user in await hass.auth.async_get_users() if user.system_generated}
    assert not system & {choice["value"] for choice in choices}
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_COUNTER_STAFF: ["no-such-user"]}
        )
    assert CONF_COUNTER_STAFF not in init_integration.options


# --- who may use it --------------------------------------------------------------------------------

# A valid message of every command (what a clerk could send).
EVERY_COMMAND: dict[str, dict[str, Any]] = {
    "find": {"query": "C-S0001"},
    "patron": {"patron_id": "S0001"},
    "return_room": {"room": "T01"},
    "check_in": {"patron_id": "X0001"},
    "freeze": {"patron_id": "S0001", "days": 3, "reason": "late"},
    "unfreeze": {"patron_id": "X0001"},
    "clear_login_lock": {"patron_id": "S0001"},
    "reserve": {"room": "L03", "patron_id": "G0001", "month": "2099-01"},
    "cancel_reservation": {"room": "L01", "month": "2099-01"},
    "lend": {"patron_id": "S0001", "items": ["B00001"]},
    "check_in_items": {"items": ["B00001"]},
    "extend_membership": {"patron_id": "S0001"},
    "reactivate_membership": {"patron_id": "S0001"},
    "add_patron": {"patron_id": "N0001", "name": "New", "category": "student_master"},
    "unlock": {"room": "T01", "confirmed": True},
    "scan_back": {"box": "main"},
}


def test_every_command_is_tried() -> None:
    assert set(EVERY_COMMAND) == set(COMMANDS)


async def _state(hass: HomeAssistant, entry: MockConfigEntry) -> tuple[Any, ...]:
    site = entry.runtime_data
    return (
        site.as_store_data(),
        site.library.as_store_data()["patrons"],
        site.library.as_store_data()["patron_state"],
        site.library.as_store_data()["circulation"],
        state_of(hass, "lock.t01"),
    )


async def test_a_user_who_is_not_counter_staff_is_refused_by_every_command(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    clerk: User,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """Neither an administrator nor named counter staff: nothing is shown, nothing changes."""
    stranger = await _client(hass, hass_ws_client, await _user(hass, "Visitor"))
    before = await _state(hass, init_integration)
    answers = [await stranger("overview")]
    answers += [await stranger(name, **fields) for name, fields in EVERY_COMMAND.items()]
    for answer in answers:
        assert _refused(answer) == "unauthorized"
        assert answer["error"]["translation_key"] == "not_counter_staff"
        assert "counter staff" in answer["error"]["message"]
    assert await _state(hass, init_integration) == before


async def test_an_administrator_need_not_be_named(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_ws_client: WebSocketGenerator
) -> None:
    admin = await _client(hass, hass_ws_client, await _user(hass, "Boss", GROUP_ID_ADMIN))
    overview = _result(await admin("overview"))
    assert [site["name"] for site in overview["sites"]] == ["Main Library"]


# A valid value of each field a service requires (services.yaml says which).
FIELD_VALUES: dict[str, Any] = {
    "room": "T01",
    "patron_id": "S0001",
    "month": "2099-01",
    "action": "push_button",
    "name": "New",
    "category": "alumni",
    "items": ["B00001"],
    "box": "main",
    "kiosk": "K1",
    "fault": "printer",
    "station": "K1",
}
ONE_OF: dict[str, dict[str, Any]] = {
    "counter_return": {"room": "T01"},
    "self_checkout": {"patron_id": "S0001"},
}


def _service_data(service: str) -> dict[str, Any]:
    fields = SERVICES_YAML[service].get("fields") or {}
    required = [name for name, spec in fields.items() if spec.get("required")]
    # A field added since: a short text is valid for most.
    return {name: FIELD_VALUES.get(name, "K1") for name in required} | ONE_OF.get(service, {})


async def test_counter_staff_stay_refused_by_every_service(
    hass: HomeAssistant, init_integration: MockConfigEntry, clerk: User
) -> None:
    """The services stay for administrators and automations: the clerk works the panel."""
    before = await _state(hass, init_integration)
    services = hass.services.async_services()[DOMAIN]
    assert set(services) == set(SERVICES_YAML)
    for service in services:
        with pytest.raises(Unauthorized):
            await hass.services.async_call(
                DOMAIN,
                service,
                _service_data(service),
                blocking=True,
                context=Context(user_id=clerk.id),
            )
    assert await _state(hass, init_integration) == before


# --- finding the patron in front of the counter ----------------------------------------------------


async def test_find_by_card_shows_the_patron_in_full(hass: HomeAssistant, staff: Send) -> None:
    """The card a reader types finds S0001: full ID, name, the room held, loans, lock."""
    await patron_action(hass, "borrow", "T01", "S0001")
    calls = async_capture_events(hass, EVENT_CALL_SERVICE)
    found = _result(await staff("find", query="C-S0001"))
    assert found["matches"] == [
        {"patron_id": "S0001", "name": "王小明", "category": "student_undergraduate"}
    ]
    patron = found["patron"]
    assert patron["patron_id"] == "S0001"
    assert patron["name"] == "王小明"
    assert [(r["room"], r["kind"]) for r in patron["rooms"]] == [("T01", "temporary")]
    assert patron["frozen"] is None
    assert patron["login"] == {"failures": 0, "wait_seconds": 0}
    assert patron["loans"] == [] and patron["item_limit"] > 0
    assert patron["membership_expires"] and not patron["expired"]
    assert not calls  # nothing typed went through a recorded service call


@pytest.mark.parametrize(
    ("query", "patron_id"),
    [("S0001", "S0001"), (" s0001 ", "S0001"), ("王小明", "S0001"), ("C-X0001", "X0001")],
    ids=["id", "id_lowercase", "name", "card"],
)
async def test_find_by_id_name_or_card(staff: Send, query: str, patron_id: str) -> None:
    found = _result(await staff("find", query=query))
    assert found["patron"]["patron_id"] == patron_id


async def test_find_nobody_is_an_empty_answer(staff: Send) -> None:
    assert _result(await staff("find", query="Z0009")) == {"matches": [], "patron": None}


async def test_frozen_holder_shows_freeze_reservation_and_check_in(
    hass: HomeAssistant, staff: Send
) -> None:
    """X0001 is frozen and holds L02 this month; a check-in shows at once."""
    patron = _result(await staff("patron", patron_id="X0001"))
    assert patron["frozen"]["reason"] == "demo: returned a room late"
    assert [(r["room"], r["kind"]) for r in patron["rooms"]] == [("L02", "long_term")]
    assert [r["month"] for r in patron["reservations"]] == [month_key(dt_util.now())]
    assert patron["checked_in_today"] is False
    _result(await staff("check_in", patron_id="X0001"))
    assert _result(await staff("patron", patron_id="X0001"))["checked_in_today"] is True


# --- acting --------------------------------------------------------------------------------------


async def test_return_the_room_of_the_patron_in_front(hass: HomeAssistant, staff: Send) -> None:
    await patron_action(hass, "borrow", "T01", "S0001")
    answer = _result(await staff("return_room", patron_id="S0001"))
    assert answer["status"] == "idle"
    assert state_of(hass, "sensor.t01_status") == "idle"
    assert _result(await staff("patron", patron_id="S0001"))["rooms"] == []
    # And from the room list, by room.
    await patron_action(hass, "borrow", "T02", "G0001")
    assert _result(await staff("return_room", room="T02"))["status"] == "idle"


async def test_freeze_with_reason_then_unfreeze(staff: Send) -> None:
    _result(await staff("freeze", patron_id="G0001", days=3, reason="noise"))
    frozen = _result(await staff("patron", patron_id="G0001"))["frozen"]
    assert frozen["reason"] == "noise"
    _result(await staff("unfreeze", patron_id="G0001"))
    assert _result(await staff("patron", patron_id="G0001"))["frozen"] is None


async def test_login_lock_is_shown_and_cleared(hass: HomeAssistant, staff: Send) -> None:
    for _ in range(6):
        with pytest.raises(ServiceValidationError):
            await patron_action(hass, "borrow", "T02", "G0001", "wrong-password")
    login = _result(await staff("patron", patron_id="G0001"))["login"]
    assert login["failures"] == 6
    assert login["wait_seconds"] >= 1
    assert _result(await staff("clear_login_lock", patron_id="G0001"))["cleared"] is True
    assert _result(await staff("patron", patron_id="G0001"))["login"] == {
        "failures": 0,
        "wait_seconds": 0,
    }


async def test_reserve_and_cancel_a_long_term_room(staff: Send) -> None:
    month = month_key(dt_util.now(), ahead=1)
    _result(await staff("reserve", room="L03", patron_id="G0001", month=month))
    reservations = _result(await staff("patron", patron_id="G0001"))["reservations"]
    assert [(r["room"], r["month"]) for r in reservations] == [("L03", month)]
    _result(await staff("cancel_reservation", room="L03", month=month))
    assert _result(await staff("patron", patron_id="G0001"))["reservations"] == []


async def test_lend_at_the_counter_and_check_in(staff: Send) -> None:
    """A book and its CD (counter only), then both back at the counter."""
    lent = _result(await staff("lend", patron_id="S0001", items=["B00001", "CD-B00001", "R00001"]))
    assert [line["barcode"] for line in lent["receipt"]] == ["B00001", "CD-B00001"]
    assert lent["refused"] == [{"barcode": "R00001", "reason": "library_use_only"}]
    loans = _result(await staff("patron", patron_id="S0001"))["loans"]
    assert [loan["barcode"] for loan in loans] == ["B00001", "CD-B00001"]
    back = _result(await staff("check_in_items", items=["B00001", "CD-B00001"]))
    assert back["checked_in"] == ["B00001", "CD-B00001"]
    assert _result(await staff("patron", patron_id="S0001"))["loans"] == []


async def test_extend_and_reactivate_a_membership(staff: Send) -> None:
    until = (dt_util.now().date() + timedelta(days=400)).isoformat()
    _result(await staff("extend_membership", patron_id="E0001", until=until))
    patron = _result(await staff("patron", patron_id="E0001"))
    assert patron["membership_expires"] == until and not patron["expired"]
    assert _refused(await staff("reactivate_membership", patron_id="E0001")) == "not_suspended"


async def test_add_patron_from_the_list_shows_the_code_once(
    hass: HomeAssistant, staff: Send
) -> None:
    overview = _result(await staff("overview"))
    keys = [category["key"] for category in overview["categories"]]
    assert "student_undergraduate" in keys
    master = next(c for c in overview["categories"] if c["key"] == "student_master")
    assert (master["en"], master["zh-Hant"]) == ("Master student", "碩士生")
    added = _result(
        await staff(
            "add_patron",
            patron_id="N0042",
            name="New Reader",
            category="student_master",
            card="C-N0042",
        )
    )
    assert ACTIVATION_CODE.fullmatch(added["activation_code"])
    found = _result(await staff("find", query="C-N0042"))["patron"]
    assert (found["patron_id"], found["name"]) == ("N0042", "New Reader")
    assert "activation_code" not in found  # only the answer to the addition carries it


async def test_unlock_needs_the_confirmation(hass: HomeAssistant, staff: Send) -> None:
    assert _refused(await staff("unlock", room="T02")) == "invalid_format"
    assert _refused(await staff("unlock", room="T02", confirmed=False)) == "invalid_format"
    assert state_of(hass, "lock.t02") == "locked"
    assert _result(await staff("unlock", room="T02", confirmed=True))["door"] == "unlocked"
    assert state_of(hass, "lock.t02") == "unlocked"


async def test_return_box_items_and_findings_by_barcode_and_scan_back(
    hass: HomeAssistant, staff: Send
) -> None:
    _result(await staff("lend", patron_id="S0001", items=["B00002", "CD-B00002"]))
    await call_service(
        hass, "return_box_drop", {"box": "main", "items": ["B00002", "CD-B00002", "X-1"]}
    )
    box = _result(await staff("overview"))["sites"][0]["boxes"][0]
    assert box["box"] == "main"
    assert [(w["barcode"], w["patron_id"]) for w in box["waiting"]] == [("B00002", "S0001")]
    assert {(f["barcode"], f["reason"]) for f in box["findings"]} == {
        ("CD-B00002", "accompanying_material_in_box"),
        ("X-1", "not_library_item"),
    }
    in_boxes = _result(await staff("patron", patron_id="S0001"))["in_boxes"]
    assert {"barcode": "B00002", "box": "main"} in in_boxes
    scanned = _result(await staff("scan_back", box="main"))
    assert scanned["checked_in"] == ["B00002"]
    assert {f["barcode"] for f in scanned["flagged"]} == {"CD-B00002", "X-1"}
    after = _result(await staff("overview"))["sites"][0]["boxes"][0]
    assert after["waiting"] == [] and after["findings"] == []


# --- refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "fields", "code"),
    [
        ("patron", {"patron_id": "Z0009"}, "unknown_patron"),
        ("check_in", {"patron_id": "S0001"}, "not_frozen"),
        ("return_room", {"room": "T01"}, "room_not_in_use"),
        ("return_room", {}, "invalid_value"),
        (
            "reserve",
            {"room": "T01", "patron_id": "G0001", "month": "2099-01"},
            "not_long_term_room",
        ),
        ("reserve", {"room": "L01", "patron_id": "G0001", "month": "next"}, "invalid_month"),
        ("add_patron", {"patron_id": "S0001", "name": "A", "category": "alumni"}, "patron_exists"),
        (
            "add_patron",
            {"patron_id": "N1", "name": "A", "category": "undergraduate"},
            "invalid_value",
        ),
        ("unlock", {"room": "T99", "confirmed": True}, "unknown_room"),
        ("scan_back", {"box": "linkou"}, "unknown_box"),
        ("lend", {"patron_id": "Z0009", "items": ["B00001"]}, "unknown_patron"),
        ("find", {"query": ""}, "invalid_format"),
        ("find", {"query": "\x1b[31m"}, "invalid_format"),
        ("lend", {"patron_id": "S0001", "items": []}, "invalid_format"),
        ("freeze", {"patron_id": "S0001", "days": 0}, "invalid_format"),
        ("patron", {"patron_id": "S0001", "config_entry_id": "nope"}, "site_not_found"),
    ],
)
async def test_refusal_code_is_the_reason(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    staff: Send,
    command: str,
    fields: dict[str, Any],
    code: str,
) -> None:
    """A refusal is an error whose code is its reason (translated); nothing changes."""
    before = await _state(hass, init_integration)
    answer = await staff(command, **fields)
    assert _refused(answer) == code
    if code != "invalid_format":
        assert answer["error"]["translation_domain"] == DOMAIN
        assert "Got None" not in answer["error"]["message"]
    assert await _state(hass, init_integration) == before


@pytest.mark.parametrize(
    ("command", "patron_id", "message"),
    [
        ("unfreeze", "g0001", "Patron G0001 is not frozen"),
        ("patron", "Z0009", "No patron Z0009 is known"),
    ],
)
async def test_staff_read_the_patron_they_typed_in_full(
    staff: Send, command: str, patron_id: str, message: str
) -> None:
    """The refusal names the patron in front of the counter in full, not masked."""
    answer = await staff(command, patron_id=patron_id)
    assert answer["error"]["message"] == message
    assert answer["error"]["translation_placeholders"]["patron"] == patron_id.upper()


async def test_nothing_typed_reaches_the_integration_log(
    hass: HomeAssistant, staff: Send, caplog: pytest.LogCaptureFixture
) -> None:
    """Cards and names typed at the counter are never logged by the integration."""
    caplog.set_level(logging.DEBUG, logger="custom_components.ntnu_library")
    _result(await staff("find", query="C-S0001"))
    _result(
        await staff(
            "add_patron", patron_id="N0043", name="Secret Name", category="alumni", card="C-N0043"
        )
    )
    ours = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("custom_components.ntnu_library")
    )
    assert "C-S0001" not in ours and "C-N0043" not in ours
    assert "Secret Name" not in ours


# --- the rooms follow the site ------------------------------------------------------------------


async def test_a_room_added_in_the_ui_is_on_the_counter_at_once(
    hass: HomeAssistant, init_integration: MockConfigEntry, staff: Send
) -> None:
    """No YAML: the room flow Home Assistant's UI runs adds T13, and the counter lists it."""
    rooms = [room["room"] for room in _result(await staff("overview"))["sites"][0]["rooms"]]
    assert "T13" not in rooms
    result = await hass.config_entries.subentries.async_init(
        (init_integration.entry_id, SUBENTRY_ROOM), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {CONF_ROOM_ID: "T13", CONF_NAME: "Group study", CONF_KIND: "temporary", CONF_FLOOR: "5F"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    room = next(
        room
        for room in _result(await staff("overview"))["sites"][0]["rooms"]
        if room["room"] == "T13"
    )
    assert (room["name"], room["status"], room["holder"]) == ("Group study", "idle", None)


async def test_holder_in_the_room_list_is_in_full(hass: HomeAssistant, staff: Send) -> None:
    await patron_action(hass, "borrow", "T01", "S0001")
    rooms = {r["room"]: r for r in _result(await staff("overview"))["sites"][0]["rooms"]}
    assert (rooms["T01"]["holder"], rooms["T01"]["holder_name"]) == ("S0001", "王小明")
    assert rooms["T02"]["holder"] is None
    assert rooms["L01"]["holder"] == "D0001"


def test_password_is_never_a_field() -> None:
    """No counter command takes a password (the patron's own command does)."""
    for command in COMMANDS.values():
        assert not any("password" in str(key) for key in command.fields)


# --- the panel's file and words ---------------------------------------------------------------------

FRONTEND = Path(__file__).parents[1] / "frontend"


def test_the_committed_panel_is_built_from_the_sources() -> None:
    """scripts/build-panel's hash of frontend/ is on the built file's first line (no npm here)."""
    names = sorted(
        [
            "package.json",
            "package-lock.json",
            *(str(p.relative_to(FRONTEND)) for p in (FRONTEND / "src").rglob("*") if p.is_file()),
        ],
        key=lambda name: name.encode(),
    )
    listing = "".join(
        f"{hashlib.sha256((FRONTEND / name).read_bytes()).hexdigest()}  {name}\n" for name in names
    )
    sources = hashlib.sha256(listing.encode()).hexdigest()[:16]
    first_line = PANEL_FILE.read_text(encoding="utf-8").splitlines()[0]
    assert f"sources {sources}" in first_line, "run scripts/build-panel"


def test_the_panel_speaks_both_languages() -> None:
    """Every word of the panel's own table in English and Traditional Chinese, same blanks."""
    texts = json.loads((FRONTEND / "src" / "texts.json").read_text(encoding="utf-8"))
    assert set(texts) == {"en", "zh-Hant"}
    assert set(texts["en"]) == set(texts["zh-Hant"])
    for key, english in texts["en"].items():
        chinese = texts["zh-Hant"][key]
        assert english.strip() and chinese.strip(), key
        assert set(re.findall(r"\{(\w+)\}", english)) == set(re.findall(r"\{(\w+)\}", chinese)), key


# --- staff of one building -----------------------------------------------------------------------


async def test_counter_staff_of_one_building_only(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    clerk: User,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A second building the clerk is not named at: not listed, and refused there."""
    other = MockConfigEntry(
        domain=DOMAIN,
        title="Gongguan",
        unique_id="gongguan",
        data={
            CONF_SITE_NAME: "Gongguan",
            CONF_RADIO: "simulated",
            CONF_PATRON_SYSTEM: PATRONS_LOCAL,
            CONF_DEMO_DATA: True,
            CONF_LIBRARY: init_integration.runtime_data.library.library_id,
        },
        options=dict(init_integration.options) | {CONF_COUNTER_STAFF: []},
        subentries_data=[room_subentry(r) for r in DEMO_ROOMS if r.room_id in ("T01", "T02")],
    )
    other.add_to_hass(hass)
    assert await hass.config_entries.async_setup(other.entry_id)
    await hass.async_block_till_done()
    staff = await _client(hass, hass_ws_client, clerk)
    overview = _result(await staff("overview"))
    assert [site["name"] for site in overview["sites"]] == ["Main Library"]
    # Without naming a site: the one the clerk works.
    assert _result(await staff("patron", patron_id="S0001"))["patron_id"] == "S0001"
    here = {"config_entry_id": init_integration.entry_id}
    there = {"config_entry_id": other.entry_id}
    assert _result(await staff("unlock", room="T02", confirmed=True, **here))["door"] == "unlocked"
    answer = await staff("unlock", room="T01", confirmed=True, **there)
    assert _refused(answer) == "unauthorized"
    assert answer["error"]["translation_key"] == "not_counter_staff"
    assert other.runtime_data.radio.lock_state("T01").value == "locked"
    await hass.config_entries.async_unload(other.entry_id)


async def test_counter_staff_of_a_restarting_site_are_no_strangers(
    hass: HomeAssistant, init_integration: MockConfigEntry, staff: Send
) -> None:
    """While their site is not loaded, the clerk's panel lists no site instead of refusing."""
    await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert _result(await staff("overview"))["sites"] == []
    assert _refused(await staff("patron", patron_id="S0001")) == "no_site"
    assert await hass.config_entries.async_setup(init_integration.entry_id)
    await hass.async_block_till_done()
    assert len(_result(await staff("overview"))["sites"]) == 1
