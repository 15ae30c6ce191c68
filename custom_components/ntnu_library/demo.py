"""Demo data: the main library's rooms and one patron per loan category.

Outside tests rely on these ids: rooms T01–T12 and L01–L06, patrons S0001 … with password
`ntnu-demo`, cards `C-` + the patron id; D0001 holds L01 this month, X0001 (frozen) holds L02.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import bcrypt

from .auth.local import LocalDirectory
from .const import CONF_KIOSKS, CONF_RETURN_BOXES
from .core.categories import default_membership_expiry
from .core.circulation_state import Item
from .core.model import Room, RoomKind, month_key
from .core.policy import Policy
from .core.reservation_rules import LongTermRules

if TYPE_CHECKING:
    from .site import Site

DEMO_PASSWORD = "ntnu-demo"

# A demo is tried at any hour: its counter never closes, so counter returns and check-ins work
# whenever someone tries them. A real site starts with the documented 08:00–22:00.
DEMO_POLICY = Policy(counter_opens="00:00", counter_closes="00:00")
# For the same reason next month's long-term rooms may be reserved from the 1st (a real site
# opens them on the 20th at 09:00).
DEMO_RESERVING = LongTermRules(reservations_open_day=1, reservations_open_time="00:00").as_dict()
# The main library's self-checkout kiosk and the library's 24-hour return boxes (options).
DEMO_KIOSKS = ("K1",)
DEMO_BOXES = ("main", "gongguan", "linkou")
DEMO_CIRCULATION = {CONF_KIOSKS: list(DEMO_KIOSKS), CONF_RETURN_BOXES: list(DEMO_BOXES)}

DEMO_ROOMS: tuple[Room, ...] = (
    *(
        Room(
            room_id=f"T{n:02d}",
            name=f"個人臨時研究室 T{n:02d}",
            kind=RoomKind.TEMPORARY,
            floor="3F",
        )
        for n in range(1, 13)
    ),
    *(
        Room(
            room_id=f"L{n:02d}",
            name=f"個人長期研究室 L{n:02d}",
            kind=RoomKind.LONG_TERM,
            floor="4F",
        )
        for n in range(1, 7)
    ),
)

# A second building of the demo library (Gongguan): six temporary rooms.
DEMO_BRANCH_ROOMS: tuple[Room, ...] = DEMO_ROOMS[:6]

# (patron id, name, category, membership: None = default period, "expired", or "none")
DEMO_PATRONS: tuple[tuple[str, str, str, str | None], ...] = (
    ("S0001", "王小明", "student_undergraduate", None),
    ("G0001", "陳怡君", "student_master", None),
    ("D0001", "林志豪", "student_doctoral", None),
    ("X0001", "黃雅婷", "student_doctoral", None),
    ("E0001", "張家豪", "student_undergraduate", "expired"),
    ("F0001", "李美玲", "faculty_full_time", "none"),
    ("P0001", "吳建宏", "faculty_part_time", "none"),
    ("H0001", "蔡淑芬", "professor_honorary", "none"),
    ("V0001", "Anna Schmidt", "professor_visiting", "none"),
    ("R0001", "許文雄", "faculty_retired", "none"),
    ("M0001", "鄭秀英", "faculty_mtc_extension", "none"),
    ("Q0001", "謝宗翰", "researcher", "none"),
    ("Q0002", "郭佳穎", "researcher_postdoctoral", "none"),
    ("O0001", "Nguyen Van An", "student_preparatory_overseas", None),
    ("I0001", "洪詩涵", "student_intern_fifth_year", None),
    ("K0001", "曾冠宇", "student_leave_deposit", None),
    ("K0002", "邱雅雯", "student_leave_paid", None),
    ("W0001", "周俊傑", "staff_regular", "none"),
    ("W0002", "賴思妤", "staff_project_assistant", "none"),
    ("W0003", "劉金龍", "staff_retired", "none"),
    ("A0001", "楊淑惠", "alumni", "none"),
    ("N0001", "羅美華", "friend_of_library", "none"),
    ("U0001", "Kim Minji", "student_mtc", None),
    ("U0002", "潘志明", "student_extension", None),
    ("Z0001", "Partner Reader", "partner_library", "none"),
)


def demo_membership_expires(category: str, membership: str | None, today: date) -> date | None:
    """When a demo patron's membership ends: expired a month ago, never, or the default."""
    if membership == "expired":
        return today - timedelta(days=30)
    if membership == "none":
        return None
    return default_membership_expiry(category, today - timedelta(days=365))


async def async_seed_demo(site: Site, now: datetime) -> None:
    """Fill a new site: its library's demo patrons (once a library), this month's holders.

    With SIP2 the demo ILS serves the patrons and the catalogue; only the library's own
    directory is filled. Each part is one transaction.
    """
    library = site.library
    if not library.seeded:
        if (directory := site.patrons.directory) is not None:
            await directory.async_import(await _async_demo_records(directory, now.date()))

        def seed_library(when: datetime) -> None:
            if site.patrons.directory is not None:
                library.circulation.catalogue.update(demo_catalogue())
            site.rooms.freeze("X0001", 30, "demo: returned a room late", when)
            library.seeded = True

        await library.transaction.async_run(
            seed_library, library.kept_circulation, library.kept_patrons
        )
        await library.async_write()  # the seeded mark, whatever else changed

    def seed_site(when: datetime) -> None:
        this_month = month_key(when)
        for room_id, patron_id in (("L01", "D0001"), ("L02", "X0001")):
            if room_id in site.rooms.rooms:
                site.rooms.state.reservations[(room_id, this_month)] = patron_id
        site.seeded = True

    await library.transaction.async_run(seed_site, site.kept_rooms)
    await site.async_write()


async def _async_demo_records(directory: LocalDirectory, today: date) -> list[dict[str, Any]]:
    """The demo patrons as the directory keeps them, with cards `C-` + the patron id.

    One hash for the shared demo password keeps seeding fast; every patron still logs in
    through bcrypt like any other.
    """
    password_hash = await directory.run_blocking(
        lambda: bcrypt.hashpw(DEMO_PASSWORD.encode(), bcrypt.gensalt()).decode()
    )
    records: list[dict[str, Any]] = []
    for patron_id, name, category, membership in DEMO_PATRONS:
        expires = demo_membership_expires(category, membership, today)
        records.append(
            {
                "patron_id": patron_id,
                "name": name,
                "category": category,
                "membership_expires": expires.isoformat() if expires else None,
                "suspended": False,
                "card": f"C-{patron_id}",
                "password_hash": password_hash,
            }
        )
    return records


# The demo catalogue (a SIP2 demo site's ILS has the same one).
DEMO_BOOKS = 500
DEMO_REFERENCES = 20
DEMO_CDS = 20


def demo_catalogue() -> dict[str, Item]:
    """Books B00001–B00500, library-use-only R00001–R00020, CDs CD-B00001–CD-B00020."""
    items: dict[str, Item] = {}
    for n in range(1, DEMO_BOOKS + 1):
        code = f"B{n:05d}"
        items[code] = Item(barcode=code, title=f"Book {n:05d} 圖書")
    for n in range(1, DEMO_REFERENCES + 1):
        code = f"R{n:05d}"
        items[code] = Item(barcode=code, title=f"Reference {n:05d} 參考書", library_use_only=True)
    for n in range(1, DEMO_CDS + 1):
        code = f"CD-B{n:05d}"
        items[code] = Item(
            barcode=code, title=f"CD of Book {n:05d} 附件光碟", accompanies=f"B{n:05d}"
        )
    return items
