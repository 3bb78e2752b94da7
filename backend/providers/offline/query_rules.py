"""The rules that turn a tagged question into query clauses, for one known record type.

Each rule scans the items left unused, recognises one kind of phrase ("over $50k", "closing
this month", "by stage", "owned by Alice"...), records a clause and marks the items it used.
Rules run from the most specific to the most general. A phrase that half-matches raises
:class:`Unanswerable`; words no rule used are checked at the end, so nothing is silently dropped.
"""

from __future__ import annotations

import calendar
from datetime import date

from margin.adapters.types import (
    Aggregate,
    FieldSchema,
    Filter,
    FilterOp,
    Period,
    PeriodName,
    QuerySpec,
    RecordTypeSchema,
    Scalar,
    Sort,
)

from .query_cursor import Cursor, Unanswerable
from .query_phrases import (
    BOUNDS,
    COMPARATORS,
    CONTAINS,
    COUNTS,
    CURRENCY_WORDS,
    DATE_LINKS,
    DAY_UNITS,
    ENTITY_PREPOSITIONS,
    GROUPINGS,
    MEASURES,
    MONTHS,
    NEGATIONS,
    NUMBER_LINKS,
    PERIODS,
    SHIFTS,
    SORT_STARTS,
    SORTED_BY,
    SUPERLATIVES,
    Direction,
    Ranking,
)
from .query_tokens import Item
from .query_vocab import (
    DATE_TYPES,
    DEFAULT_LIMIT,
    GROUP_TYPES,
    NUMERIC_TYPES,
    STOPWORDS,
    TEXT_TYPES,
    account_field,
    created_field,
    date_fields,
    due_field,
    field_label,
    field_words,
    money_field,
    only,
    percent_field,
    queryable,
    stem,
    title_field,
    words,
)


class Clauses(Cursor):
    """The clauses found in one question about one record type."""

    def __init__(self, question: str, items: list[Item], record_type: RecordTypeSchema, today: date) -> None:
        super().__init__(question, items)
        self.record_type = record_type
        self.today = today
        self.filters: list[tuple[int, Filter]] = []
        self.sorts: list[Sort] = []
        self.limit: int | None = None
        self.group_by: str | None = None
        self.aggregate: Aggregate | None = None
        self.wants_top = False

    @property
    def plural(self) -> str:
        return self.record_type.plural.lower()

    def spec(self) -> QuerySpec:
        """Apply every rule, check that nothing meaningful was left over, and build the spec."""
        foreign = next((item for item in self.items if item.kind == "foreign"), None)
        if foreign is not None:
            raise Unanswerable(f"{self.plural} have no field called '{foreign.text}'")
        for rule in (
            self._dates,
            self._limits,
            self._comparisons,
            self._aggregates,
            self._explicit_sorts,
            self._groups,
            self._superlatives,
            self._contains,
            self._entities,
            self._values,
        ):
            for index in range(len(self.items)):
                rule(index)
        self._check_leftovers()
        if self.wants_top and not self.sorts:
            self._add_sort(self._default(money_field(self.record_type), "'top'"), "desc")
        aggregate = self.aggregate or (Aggregate("count") if self.group_by else None)
        return QuerySpec(
            record_type=self.record_type.name,
            filters=tuple(item for _, item in sorted(self.filters, key=lambda pair: pair[0])),
            sort=tuple(self.sorts),
            limit=self.limit or DEFAULT_LIMIT,
            group_by=self.group_by,
            aggregate=aggregate,
        )

    # Rules: each looks for its phrase starting at item ``i``.

    def _dates(self, i: int) -> None:
        found = self._date_expression(i)
        if found is not None:
            end, op, value = found
            field = self._date_field(i, end)
            self._add(i, Filter(field.name, op, value))
            self._use(i, end)

    def _limits(self, i: int) -> None:
        found = self._limit_phrase(i)
        if found is not None:
            n, end = found
            self._set_limit(n)
            self._use(i, end)

    def _limit_phrase(self, i: int) -> tuple[int, int] | None:
        """ "top 5" (by the money field unless said otherwise), "first 3", "last 5 cases", "5 largest"."""
        if (end := self._seq(i, "top")) >= 0 and (n := self._count(end)) is not None:
            self.wants_top = True
            return n, end + 1
        if (end := self._seq(i, "first|limit")) >= 0 and (n := self._count(end)) is not None:
            return n, end + 1
        end = self._seq(i, "last|latest|newest")
        if end >= 0 and (n := self._count(end)) is not None and self._is_type(end + 1):
            self._add_sort(self._default(created_field(self.record_type), "'latest'"), "desc")
            return n, end + 1
        if (n := self._count(i)) is not None and (self._is_type(i + 1) or self._word_at(i + 1, SORT_STARTS)):
            return n, i + 1
        return None

    def _comparisons(self, i: int) -> None:
        if (end := self._seq(i, "between")) >= 0:
            low, high = self._number(end), self._number(end + 2)
            if low is not None and high is not None and self._word_at(end + 1, "and|to"):
                field, stop = self._numeric_field(i, end + 3, low, high)
                if field is not None:
                    self._add(i, Filter(field.name, "between", [_scalar(low), _scalar(high)]))
                    self._use(i, stop)
            return
        for pattern, op in COMPARATORS:
            end = self._seq(i, *pattern)
            number = self._number(end) if end >= 0 else None
            if number is not None:
                field, stop = self._numeric_field(i, end + 1, number)
                if field is not None:
                    self._add(i, Filter(field.name, op, _scalar(number)))
                    self._use(i, stop)
                return

    def _aggregates(self, i: int) -> None:
        if (found := self._first(i, COUNTS)) is not None:
            self._set_aggregate(Aggregate("count"))
            self._use(i, found)
            return
        for pattern, fn in MEASURES:
            end = self._seq(i, *pattern)
            if end < 0:
                continue
            while self._word_at(end, "of|the|a") or self._is_type(end):
                end += 1
            field = self._field_at(end, NUMERIC_TYPES)
            if field is None:
                raise Unanswerable(f"I couldn't tell what to {'total' if fn == 'sum' else 'average'}")
            self._set_aggregate(Aggregate(fn, field.name))
            self._use(i, end + 1)
            return

    def _explicit_sorts(self, i: int) -> None:
        end = self._seq(i, *SORTED_BY)
        if end < 0:
            return
        end += self._word_at(end, "the")
        field = self._field_at(end)
        if field is None or field.type == "text":
            raise Unanswerable("I couldn't tell what to sort by")
        direction, stop = self._direction(end + 1, field)
        self._add_sort(field, direction)
        self._use(i, stop)

    def _groups(self, i: int) -> None:
        found = next(((end, p) for p in GROUPINGS if (end := self._seq(i, *p)) >= 0), None)
        if found is None:
            return
        end, pattern = found
        end += self._word_at(end, "the")
        field = self._field_at(end)
        if field is None:
            return
        if pattern == ("by",) and field.type in NUMERIC_TYPES | DATE_TYPES:
            direction, stop = self._direction(end + 1, field)
            self._add_sort(field, direction)
            self._use(i, stop)
            return
        if field.type not in GROUP_TYPES:
            raise Unanswerable(f"I can't group by {field_label(field)}")
        if self.group_by not in (None, field.name):
            raise Unanswerable("it asks for two different groupings")
        self.group_by = field.name
        self._use(i, end + 1)

    def _superlatives(self, i: int) -> None:
        for pattern, kind, direction in SUPERLATIVES:
            end = self._seq(i, *pattern)
            if end < 0:
                continue
            start, field, end = self._ranked_field(i, end, kind)
            end += self._word_at(end, "first")
            self._add_sort(field, direction)
            self._use(start, end)
            return

    def _contains(self, i: int) -> None:
        end = self._first(i, CONTAINS)
        value = self._value_run(end, lowercase=True) if end is not None else None
        if value is None:
            return
        text, stop = value
        field = self._field_at(i - 1, TEXT_TYPES)
        start = i - 1 if field is not None else i
        field = field or self._default(title_field(self.record_type), f"'{self._text(i, stop)}'")
        self._add(start, Filter(field.name, "contains", text))
        self._use(start, stop)

    def _entities(self, i: int) -> None:
        """ "owner is Alice Chen" (=), "owned by Alice", "assigned to Bob", "for Acme" (contains)."""
        item = self._free(i)
        if item is None:
            return
        op: FilterOp = "contains"
        if item.kind == "field":
            field = self._field_at(i, frozenset({"string"}))
            start = i + 1
            if self._word_at(start, "is|=|equals") or self._punct_at(start, ":"):
                op, start = "=", start + 1
            value = self._value_run(start, lowercase=True)
        elif self._word_at(i, ENTITY_PREPOSITIONS):
            value = self._value_run(i + 1, lowercase=item.low != "with")
            field = self._default(account_field(self.record_type), f"'{value[0]}'") if value else None
        elif item.kind == "word" and self._word_at(i + 1, "by|to"):
            field = self._verb_field(item.low)
            value = self._value_run(i + 2, lowercase=True)
        else:
            return
        if field is not None and value is not None:
            self._add(i, Filter(field.name, op, value[0]))
            self._use(i, value[1])

    def _values(self, i: int) -> None:
        """ "high priority", "open", "not solved", "qualification or proposal", "stage is proposal"."""
        item = self._free(i)
        if item is None or item.kind != "value":
            return
        field = self._value_field(i)
        values = _values_of(item, field)
        stop = i + 1
        while (self._word_at(stop, "or") or self._punct_at(stop, ",")) and self._names_value(stop + 1, field):
            values += _values_of(self.items[stop + 1], field)
            stop += 2
        stop += self._names_field(stop, field)
        back, negate = i - 1, False
        while self._word_at(back, f"in|is|are|=|the|at|{NEGATIONS}"):
            negate = negate or self._word_at(back, NEGATIONS)
            back -= 1
        start = back if self._names_field(back, field) else back + 1
        self._add(start, _enum_filter(field, list(dict.fromkeys(values)), negate=negate))
        self._use(start, stop)

    # Finishing.

    def _check_leftovers(self) -> None:
        for item in self.items:
            if item.used or item.kind in ("punct", "type"):
                continue
            if item.kind == "word" and (item.low in STOPWORDS or (item.low == "first" and self.sorts)):
                continue
            if item.kind == "field":
                raise Unanswerable(f"I couldn't tell what to do with '{item.text}'")
            raise Unanswerable(f"I didn't understand '{item.text}'")

    # Phrase helpers.

    def _date_expression(self, i: int) -> tuple[int, FilterOp, Scalar | list[Scalar] | Period] | None:
        item = self._free(i)
        if item is None or item.kind != "word":
            return None
        word = item.low
        if word in ("today", "yesterday", "tomorrow"):
            return i + 1, "between", Period(PERIODS[word])
        shift = SHIFTS.get(word)
        following = self._free(i + 1)
        if shift is not None and shift != "this":
            n, unit = self._count(i + 1), self._free(i + 2)
            if n is not None and unit is not None and (unit_word := _base(unit)) in DAY_UNITS:
                name: PeriodName = "last_n_days" if shift == "last" else "next_n_days"
                return i + 3, "between", Period(name, n * DAY_UNITS[unit_word])
        if shift is not None and following is not None and f"{shift} {_base(following)}" in PERIODS:
            return i + 2, "between", Period(PERIODS[f"{shift} {_base(following)}"])
        if word in ("in", "during") and following is not None:
            span = self._month_or_year(i + 1)
            if span is not None:
                end, first, last = span
                return end, "between", [first.isoformat(), last.isoformat()]
        if word in BOUNDS and following is not None and following.kind == "date" and _iso(following.text):
            return i + 2, BOUNDS[word], following.text
        return None

    def _month_or_year(self, i: int) -> tuple[int, date, date] | None:
        """``March``, ``March 2024`` or ``2024``: the first and last day."""
        item = self._free(i)
        year = self._year(i + 1)
        if item is not None and item.low in MONTHS:
            month = MONTHS.index(item.low) + 1
            on = year or self.today.year
            last_day = calendar.monthrange(on, month)[1]
            return i + (2 if year else 1), date(on, month, 1), date(on, month, last_day)
        year = self._year(i)
        return (i + 1, date(year, 1, 1), date(year, 12, 31)) if year else None

    def _year(self, i: int) -> int | None:
        item = self._free(i)
        if item is None or item.kind != "number" or item.money or not item.text.isdigit():
            return None
        return int(item.text) if 1900 <= int(item.text) <= 2100 else None

    def _date_field(self, i: int, end: int) -> FieldSchema:
        """The date field a period is about: named just before it ("closing this month"), or the only one."""
        back = i - 1
        while self._word_at(back, DATE_LINKS):
            back -= 1
        field = self._date_ref(back)
        if field is not None:
            self._use(back, i)
            return field
        verb = self._free(back)
        if verb is not None and verb.kind in ("word", "value") and verb.low.endswith("ed"):
            raise Unanswerable(f"I don't know which date '{verb.text}' refers to")
        fields = date_fields(self.record_type)
        if len(fields) == 1:
            return fields[0]
        if not fields:
            raise Unanswerable(f"{self.plural} have no dates to filter on")
        labels = " or ".join(field_label(f) for f in fields)
        raise Unanswerable(f"it isn't clear which date '{self._text(i, end)}' is about ({labels})")

    def _date_ref(self, i: int) -> FieldSchema | None:
        """A date field named at ``i``, or a verb that names one ("closing" -> close date)."""
        item = self._free(i)
        if item is None:
            return None
        if item.kind == "field":
            return self._field_at(i, DATE_TYPES)
        if item.kind in ("word", "value") and item.low.endswith(("ed", "ing")):
            target = stem(item.low)
            return only(
                f for f in date_fields(self.record_type) if target in {stem(w) for w in field_words(f)}
            )
        return None

    def _numeric_field(self, start: int, after: int, *numbers: Item) -> tuple[FieldSchema | None, int]:
        """The field a number is compared with, and where the phrase ends.

        Named before ("amount over 50k") or after ("more than 500 employees"); otherwise the one
        money field (or percentage field for "70%"). None for "more than 3 deals": that counts
        records, which a filter cannot express.
        """
        stop = after + self._word_at(after, CURRENCY_WORDS)
        back = start - 1
        while self._word_at(back, NUMBER_LINKS):
            back -= 1
        if (field := self._field_at(back, NUMERIC_TYPES)) is not None:
            self._use(back, start)
            return field, stop
        if (field := self._field_at(stop, NUMERIC_TYPES)) is not None:
            return field, stop + 1
        if self._is_type(stop):
            return None, stop
        percent = any(number.percent for number in numbers)
        default = percent_field(self.record_type) if percent else money_field(self.record_type)
        return self._default(default, f"'{self._text(start, after)}'"), stop

    def _ranked_field(self, i: int, end: int, kind: Ranking) -> tuple[int, FieldSchema, int]:
        """What "largest", "most recent" or "soonest" ranks by: a field named next to it, or the usual one."""
        types = NUMERIC_TYPES if kind == "size" else DATE_TYPES
        after = self._field_at(end, types) if kind != "recent" else self._date_ref(end)
        if after is not None:
            return i, after, end + 1
        before = self._field_at(i - 1, types)
        if before is not None and kind == "due":
            return i - 1, before, end
        defaults: dict[Ranking, FieldSchema | None] = {
            "size": money_field(self.record_type),
            "recent": created_field(self.record_type),
            "due": due_field(self.record_type),
        }
        return i, self._default(defaults[kind], f"'{self._text(i, end)}'"), end

    def _direction(self, i: int, field: FieldSchema) -> tuple[Direction, int]:
        if self._word_at(i, "asc|ascending"):
            return "asc", i + 1
        if self._word_at(i, "desc|descending"):
            return "desc", i + 1
        if (end := self._seq(i, "highest|largest|biggest|newest|latest", "first")) >= 0:
            return "desc", end
        if (end := self._seq(i, "lowest|smallest|oldest|earliest", "first")) >= 0:
            return "asc", end
        return ("desc" if field.type in NUMERIC_TYPES else "asc"), i

    def _verb_field(self, verb: str) -> FieldSchema | None:
        """The text field a verb points at: "owned" -> owner, "assigned" -> assignee."""
        target = stem(verb)
        if len(target) < 3:
            return None
        return only(
            field
            for field in queryable(self.record_type)
            if field.type == "string" and any(stem(word).startswith(target) for word in field_words(field))
        )

    def _value_field(self, i: int) -> FieldSchema:
        """The enum field a value belongs to; a neighbouring field name settles a tie."""
        item = self.items[i]
        fields = item.fields
        if len(fields) == 1:
            return fields[0]
        for k in (i + 1, i - 1, i - 2):
            named = [f for f in fields if self._names_field(k, f)]
            if len(named) == 1:
                return named[0]
        raise Unanswerable(f"'{item.text}' could be {' or '.join(field_label(f) for f in fields)}")

    # State.

    def _add(self, position: int, new: Filter) -> None:
        for _, old in self.filters:
            same_kind = old.op == new.op or {old.op, new.op} <= {"=", "in", "!="}
            if old.field == new.field and same_kind and new.op != "contains":
                raise Unanswerable(f"it sets {old.field.replace('_', ' ')} twice")
        self.filters.append((position, new))

    def _add_sort(self, field: FieldSchema, direction: Direction) -> None:
        sort = Sort(field.name, direction)
        if self.sorts and self.sorts[0] != sort:
            raise Unanswerable("it asks for two different orders")
        self.sorts = [sort]

    def _set_limit(self, n: int) -> None:
        if self.limit not in (None, n):
            raise Unanswerable("it asks for two different numbers of results")
        self.limit = n

    def _set_aggregate(self, aggregate: Aggregate) -> None:
        if self.aggregate not in (None, aggregate):
            raise Unanswerable("it asks for two different calculations")
        self.aggregate = aggregate

    def _default(self, field: FieldSchema | None, phrase: str) -> FieldSchema:
        if field is None:
            raise Unanswerable(f"it isn't clear which field of {self.plural} {phrase} refers to")
        return field


def _base(item: Item) -> str:
    found = words(item.text)
    return found[0] if found else item.low


def _values_of(item: Item, field: FieldSchema) -> list[Scalar]:
    return [value for m in item.meanings if m.field == field for value in m.values]


def _enum_filter(field: FieldSchema, values: list[Scalar], *, negate: bool) -> Filter:
    """One value: = or !=. Several: in, or "in" the remaining values when negated ("not closed")."""
    if negate:
        if len(values) == 1:
            return Filter(field.name, "!=", values[0])
        return Filter(field.name, "in", [value for value in field.allowed_values if value not in values])
    return Filter(field.name, "=", values[0]) if len(values) == 1 else Filter(field.name, "in", values)


def _scalar(item: Item) -> int | float:
    number = item.number or 0.0
    return int(number) if number.is_integer() else number


def _iso(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
