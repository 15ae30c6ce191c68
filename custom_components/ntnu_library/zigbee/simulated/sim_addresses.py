"""The simulated devices' addresses: they follow from the room id, and differ between rooms.

A simulated IEEE address is the prefix ``4e:54`` ("NT"; 0x4e marks a locally administered
address, so never a vendor's), five bytes that number the room, and the role: ``01`` the
lock, ``02`` the door contact, ``03`` the occupancy sensor.

The room's number is its id read as a bijective base-37 numeral over ``-``, ``0``-``9`` and
``A``-``Z`` (the characters of a room id), so distinct ids of up to seven characters always
get distinct numbers, all below 2**37. Any other id (longer, or with other characters) is
hashed into the numbers from 0x4e56000000 up (some 7.6e11 of them), where no short id lands:
two such ids share an address only if their hashes collide (odds of about 3 in a million
among 2,000 of them). Between the two lies the block of the first simulated rooms'
addresses (``4e:54:4e:55:xx:xx:xx``, from a 3-byte hash, which gave two of 2,000 rooms one
address), so a room added now never takes the address of a room stored then.
"""

from __future__ import annotations

import hashlib

import zigpy.types as t

from ..radio import RoomDevices

SIMULATED_IEEE_PREFIX = "4e:54"  # "NT"
COORDINATOR_IEEE = t.EUI64.convert("4e:54:4e:55:00:00:00:00")  # no device's role is 00

_DIGITS = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGIT_VALUES = {digit: value for value, digit in enumerate(_DIGITS, start=1)}
_DIRECT_LENGTH = 7  # 37**7 + ... + 37 numbers, all below 2**37
_ROOM_BYTES = 5
_HASHED_FROM = 0x4E56000000  # past the direct numbers and the first rooms' "4e:55" block
_HASHED_COUNT = (1 << (8 * _ROOM_BYTES)) - _HASHED_FROM


def room_number(room_id: str) -> int:
    """The number that stands for the room in its devices' addresses (see the module)."""
    if 0 < len(room_id) <= _DIRECT_LENGTH and all(digit in _DIGIT_VALUES for digit in room_id):
        number = 0
        for digit in room_id:
            number = number * len(_DIGITS) + _DIGIT_VALUES[digit]
        return number
    digest = hashlib.blake2b(room_id.encode(), digest_size=8).digest()
    return _HASHED_FROM + int.from_bytes(digest) % _HASHED_COUNT


def simulated_devices(room_id: str) -> RoomDevices:
    """The IEEE addresses of a room's simulated lock, contact and occupancy sensor.

    Deterministic from the room id; no two rooms share them (for ids of more than seven
    characters, see the module).
    """
    number = room_number(room_id).to_bytes(_ROOM_BYTES)
    base = ":".join((SIMULATED_IEEE_PREFIX, *(f"{byte:02x}" for byte in number)))
    return RoomDevices(
        room_id=room_id, lock=f"{base}:01", contact=f"{base}:02", occupancy=f"{base}:03"
    )
