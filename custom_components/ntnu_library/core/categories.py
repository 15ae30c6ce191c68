"""Patron categories: the library's loan table (circulation rules), row for row, as data.

One table (`LOAN_TABLE`) holds every row of the seed: the categories it covers, the item limit,
the loan period and its labels in English (the seed's words) and Traditional Chinese. Everything
else here is derived from it, so a change of the library's rules is a change of one row.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
import sys
from types import MappingProxyType

from .errors import Reason, Refused


class Group(StrEnum):
    """The patron groups that head the seed's table."""

    FACULTY = "faculty"
    RESEARCHERS = "researchers"
    STUDENTS = "students"
    ADMINISTRATION = "administration"
    ALUMNI = "alumni"
    OTHERS = "others"


GROUP_LABELS: Mapping[Group, tuple[str, str]] = MappingProxyType(
    {
        Group.FACULTY: ("Faculty", "教師"),
        Group.RESEARCHERS: ("Researchers", "研究人員"),
        Group.STUDENTS: ("Students", "學生"),
        Group.ADMINISTRATION: ("Administration", "行政人員"),
        Group.ALUMNI: ("Alumni", "校友"),
        Group.OTHERS: ("Others", "其他"),
    }
)


class PeriodUnit(StrEnum):
    """The seed counts loan periods in months or days."""

    MONTHS = "months"
    DAYS = "days"


def add_months(start: date, months: int) -> date:
    """Return the same day `months` later, or that month's last day (Jan 31 + 1 → Feb 28)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, monthrange(year, month)[1]))


@dataclass(frozen=True, kw_only=True, slots=True)
class LoanPeriod:
    """How long an item may be kept, as the seed writes it (6 Month, 21 Days)."""

    amount: int
    unit: PeriodUnit

    def due(self, start: date) -> date:
        """Return the due date of an item (or its accompanying material) lent on `start`."""
        if self.unit is PeriodUnit.MONTHS:
            return add_months(start, self.amount)
        return start + timedelta(days=self.amount)

    @property
    def label_en(self) -> str:
        """As the seed prints it."""
        if self.unit is PeriodUnit.MONTHS:
            return f"{self.amount} month" + ("s" if self.amount != 1 else "")
        return f"{self.amount} day" + ("s" if self.amount != 1 else "")

    @property
    def label_zh(self) -> str:
        """個月 / 天."""
        return f"{self.amount} 個月" if self.unit is PeriodUnit.MONTHS else f"{self.amount} 天"


def _months(amount: int) -> LoanPeriod:
    return LoanPeriod(amount=amount, unit=PeriodUnit.MONTHS)


def _days(amount: int) -> LoanPeriod:
    return LoanPeriod(amount=amount, unit=PeriodUnit.DAYS)


# What the seed says in place of a period for partner-library users.
BY_AGREEMENT_EN = "Subject to the agreement between the two libraries"
BY_AGREEMENT_ZH = "依兩館合作協議"


@dataclass(frozen=True, kw_only=True, slots=True)
class CategoryEntry:
    """One category inside a row: its key and its own labels."""

    key: str
    label_en: str
    label_zh: str
    # Default membership length; the seed gives it for students only.
    membership_years: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class LoanRow:
    """One row of the seed's table ("Patron Status / Item Limits / Loan Period")."""

    group: Group
    label_en: str  # the seed's wording of the row
    label_zh: str
    categories: tuple[CategoryEntry, ...]
    item_limit: int
    loan_period: LoanPeriod | None  # None: subject to the agreement between the two libraries


def _c(
    key: str, label_en: str, label_zh: str, membership_years: int | None = None
) -> CategoryEntry:
    return CategoryEntry(
        key=key, label_en=label_en, label_zh=label_zh, membership_years=membership_years
    )


# Seed 001, row for row and in its order.
LOAN_TABLE: tuple[LoanRow, ...] = (
    LoanRow(
        group=Group.FACULTY,
        label_en="Full-time faculty members, Part-time faculty members",
        label_zh="專任教師、兼任教師",
        categories=(
            _c("faculty_full_time", "Full-time faculty member", "專任教師"),
            _c("faculty_part_time", "Part-time faculty member", "兼任教師"),
        ),
        item_limit=100,
        loan_period=_months(6),
    ),
    LoanRow(
        group=Group.FACULTY,
        label_en="Honorary professors, Visiting professors",
        label_zh="名譽教授、客座教授",
        categories=(
            _c("professor_honorary", "Honorary professor", "名譽教授"),
            _c("professor_visiting", "Visiting professor", "客座教授"),
        ),
        item_limit=100,
        loan_period=_months(6),
    ),
    LoanRow(
        group=Group.FACULTY,
        label_en="Retired Faculty",
        label_zh="退休教師",
        categories=(_c("faculty_retired", "Retired faculty", "退休教師"),),
        item_limit=50,
        loan_period=_months(2),
    ),
    LoanRow(
        group=Group.FACULTY,
        label_en=(
            "Faculty of Mandarin Training Center and Extension, School of Continuing Education"
        ),
        label_zh="國語教學中心及進修推廣學院教師",
        categories=(
            _c(
                "faculty_mtc_extension",
                "Faculty of Mandarin Training Center and Extension, School of Continuing Education",
                "國語教學中心及進修推廣學院教師",
            ),
        ),
        item_limit=50,
        loan_period=_months(2),
    ),
    LoanRow(
        group=Group.RESEARCHERS,
        label_en="Researcher",
        label_zh="研究人員",
        categories=(_c("researcher", "Researcher", "研究人員"),),
        item_limit=100,
        loan_period=_months(6),
    ),
    LoanRow(
        group=Group.RESEARCHERS,
        label_en="Postdoctoral Researcher",
        label_zh="博士後研究人員",
        categories=(_c("researcher_postdoctoral", "Postdoctoral researcher", "博士後研究人員"),),
        item_limit=100,
        loan_period=_months(6),
    ),
    LoanRow(
        group=Group.STUDENTS,
        label_en="Doctoral and Master Student",
        label_zh="博士生、碩士生",
        categories=(
            _c("student_doctoral", "Doctoral student", "博士生", membership_years=7),
            _c("student_master", "Master student", "碩士生", membership_years=4),
        ),
        item_limit=100,
        loan_period=_months(6),
    ),
    LoanRow(
        group=Group.STUDENTS,
        label_en="Undergraduate Student",
        label_zh="大學部學生",
        categories=(
            _c("student_undergraduate", "Undergraduate student", "大學部學生", membership_years=4),
        ),
        item_limit=60,
        loan_period=_months(4),
    ),
    LoanRow(
        group=Group.STUDENTS,
        label_en="Students of Division of Preparatory Programs for Oversea Chinese Students",
        label_zh="僑生先修部學生",
        categories=(
            _c(
                "student_preparatory_overseas",
                "Student of the Division of Preparatory Programs for Overseas Chinese Students",
                "僑生先修部學生",
            ),
        ),
        item_limit=30,
        loan_period=_months(1),
    ),
    LoanRow(
        group=Group.STUDENTS,
        label_en="Interns in the Fifth Year",
        label_zh="第五年實習學生",
        categories=(_c("student_intern_fifth_year", "Intern in the fifth year", "第五年實習學生"),),
        item_limit=15,
        loan_period=_months(1),
    ),
    LoanRow(
        group=Group.STUDENTS,
        label_en="Leave of absence Student (NT$2,000 deposit required)",
        label_zh="休學學生（須繳交保證金新臺幣 2,000 元）",
        categories=(
            _c(
                "student_leave_deposit",
                "Student on leave of absence (NT$2,000 deposit)",
                "休學學生（繳交保證金）",
            ),
        ),
        item_limit=15,
        loan_period=_months(1),
    ),
    LoanRow(
        group=Group.STUDENTS,
        label_en=(
            "Leave of absence Student (NT$500 per semester for using the library "
            "and NT$1,000 for a full school year)"
        ),
        label_zh="休學學生（使用圖書館每學期繳費新臺幣 500 元，全學年 1,000 元）",
        categories=(
            _c(
                "student_leave_paid",
                "Student on leave of absence (library fee paid)",
                "休學學生（繳交使用費）",
            ),
        ),
        item_limit=30,
        loan_period=_days(60),
    ),
    LoanRow(
        group=Group.ADMINISTRATION,
        label_en="Regular employees and Staff members",
        label_zh="編制內職員工",
        categories=(_c("staff_regular", "Regular employee or staff member", "編制內職員工"),),
        item_limit=50,
        loan_period=_months(2),
    ),
    LoanRow(
        group=Group.ADMINISTRATION,
        label_en="Full Time Project Assistant",
        label_zh="專任專案助理",
        categories=(_c("staff_project_assistant", "Full-time project assistant", "專任專案助理"),),
        item_limit=20,
        loan_period=_months(2),
    ),
    LoanRow(
        group=Group.ADMINISTRATION,
        label_en="Retired Employee",
        label_zh="退休職員工",
        categories=(_c("staff_retired", "Retired employee", "退休職員工"),),
        item_limit=10,
        loan_period=_months(1),
    ),
    LoanRow(
        group=Group.ALUMNI,
        label_en="Alumni",
        label_zh="校友",
        categories=(_c("alumni", "Alumni", "校友"),),
        item_limit=15,
        loan_period=_months(1),
    ),
    LoanRow(
        group=Group.ALUMNI,
        label_en="Friends of Library",
        label_zh="圖書館之友",
        categories=(_c("friend_of_library", "Friend of the Library", "圖書館之友"),),
        item_limit=5,
        loan_period=_days(21),
    ),
    LoanRow(
        group=Group.OTHERS,
        label_en="Students of Mandarin Training Center",
        label_zh="國語教學中心學生",
        categories=(
            _c("student_mtc", "Student of the Mandarin Training Center", "國語教學中心學生"),
        ),
        item_limit=5,
        loan_period=_months(1),
    ),
    LoanRow(
        group=Group.OTHERS,
        label_en="Students of NTNU extension, school of continuing education",
        label_zh="進修推廣學院學生",
        categories=(
            _c(
                "student_extension",
                "Student of the School of Continuing Education",
                "進修推廣學院學生",
            ),
        ),
        item_limit=10,
        loan_period=_months(1),
    ),
    LoanRow(
        group=Group.OTHERS,
        label_en="Partner Library Loan Service Users",
        label_zh="合作館借書服務使用者",
        categories=(
            _c("partner_library", "Partner library loan service user", "合作館借書服務使用者"),
        ),
        item_limit=5,
        loan_period=None,
    ),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Category:
    """A patron category with the rules of its row."""

    key: str
    label_en: str
    label_zh: str
    row: LoanRow
    membership_years: int | None

    @property
    def group(self) -> Group:
        """The heading of the seed's table the category sits under."""
        return self.row.group

    @property
    def item_limit(self) -> int:
        """Items on loan at once; accompanying materials (CDs) count too."""
        return self.row.item_limit

    @property
    def loan_period(self) -> LoanPeriod | None:
        """None for partner-library users: subject to the agreement between the libraries."""
        return self.row.loan_period

    def label(self, language: str) -> str:
        """Return the label for a Home Assistant language (zh-Hant, zh-TW …; else English)."""
        return self.label_zh if language.lower().startswith("zh") else self.label_en


def _build() -> Mapping[str, Category]:
    built: dict[str, Category] = {}
    for row in LOAN_TABLE:
        for entry in row.categories:
            if entry.key in built:  # a typo in the table must not silently shadow a row
                raise ValueError(f"category {entry.key} appears twice in the loan table")
            built[entry.key] = Category(
                key=entry.key,
                label_en=entry.label_en,
                label_zh=entry.label_zh,
                row=row,
                membership_years=entry.membership_years,
            )
    return MappingProxyType(built)


CATEGORIES: Mapping[str, Category] = _build()


def _most_restricted() -> str:
    """The category with the fewest items, then the shortest loan; the table's first on a tie.

    A loan "by agreement" (partner libraries) is not counted as short: its length is unknown.
    """
    start = date(2001, 1, 1)

    def strictness(entry: Category) -> tuple[int, int]:
        period = entry.loan_period
        days = (period.due(start) - start).days if period is not None else sys.maxsize
        return entry.item_limit, days

    return min(CATEGORIES.values(), key=strictness).key


# The least a patron can borrow: where a patron whose category is unknown lands (an ILS patron
# type nobody mapped, a record that names none).
MOST_RESTRICTED_CATEGORY: str = _most_restricted()


def category(key: str) -> Category:
    """Return the category named `key`; an unknown key is refused."""
    return _lookup(key)


def default_membership_expiry(category: str | Category, start: date) -> date | None:
    """Return when a membership started on `start` ends by default (4 or 7 years), else None.

    Feb 29 becomes Feb 28 in a common year. Extending it is a counter decision, not ours.
    """
    found = category if isinstance(category, Category) else _lookup(category)
    if found.membership_years is None:
        return None
    return add_months(start, 12 * found.membership_years)


def _lookup(key: str) -> Category:
    try:
        return CATEGORIES[key]
    except (KeyError, TypeError):  # TypeError: an unhashable value from a service call
        raise Refused(Reason.INVALID_VALUE, field="category", value=str(key)) from None
