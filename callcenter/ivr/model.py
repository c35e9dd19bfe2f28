"""The flow schema: pydantic models of a YAML flow file (a discriminated union on ``type``).

The models check shapes and local facts (a pattern compiles, an expression is
allowed). Whole-flow facts (targets exist, nodes are reachable, queues are
known) are the validator's job. See ``ivr_flows/README.md`` for the language.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from callcenter.ivr.business_hours import (
    WEEKDAYS,
    BusinessHours,
    Holiday,
    parse_holiday,
    parse_time_range,
)
from callcenter.ivr.errors import ExpressionError
from callcenter.ivr.expressions import compile_expression

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
VarName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Key = Annotated[str, BeforeValidator(lambda v: str(v)), Field(pattern=r"^[0-9*#]$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Prompt(_Strict):
    """Either ``say`` (text, or text per language) or ``play`` (an audio file)."""

    say: str | dict[str, str] | None = None
    play: str | None = None
    language: str | None = None
    voice: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Prompt:
        if (self.say is None) == (self.play is None):
            raise ValueError("a prompt needs exactly one of `say:` or `play:`")
        return self


def _as_prompt_list(value: object) -> object:
    if value is None:
        return []
    if isinstance(value, str | dict):
        value = [value]
    if isinstance(value, list):
        return [{"say": v} if isinstance(v, str) else v for v in value]
    return value


Prompts = Annotated[list[Prompt], BeforeValidator(_as_prompt_list)]


def _check_expression(source: str) -> str:
    try:
        compile_expression(source)
    except ExpressionError as exc:
        raise ValueError(str(exc)) from exc
    return source


def _scalar_text(value: object) -> object:
    return str(value) if isinstance(value, bool | int | float) else value


ExpressionText = Annotated[str, BeforeValidator(_scalar_text), AfterValidator(_check_expression)]


Route = tuple[str, tuple[str | int, ...], str]
"""(label for diagrams, path of the key in the node, target node id)."""


class _Node(_Strict):
    type: str
    description: str | None = None
    WAITS_FOR_CALLER: ClassVar[bool] = False
    """True when the node cannot pass without the caller (input, waiting in a queue)."""
    ENDS_CALL: ClassVar[bool] = False
    EDGE_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (("next", "next"),)

    def routes(self) -> list[Route]:
        """Every way out of this node."""
        return [
            (label, (name,), getattr(self, name))
            for label, name in self.EDGE_FIELDS
            if getattr(self, name) is not None
        ]

    def implicit_hangup(self) -> bool:
        """True when some outcome of the node ends the call without a route."""
        return False


class SayNode(_Node):
    type: Literal["say"]
    text: str | dict[str, str]
    language: str | None = None
    voice: str | None = None
    next: NodeId


class PlayNode(_Node):
    type: Literal["play"]
    file: str
    next: NodeId


class _InputNode(_Node):
    """Shared by nodes that ask the caller for keys and re-ask on bad input."""

    WAITS_FOR_CALLER: ClassVar[bool] = True
    prompt: Prompts
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=2, ge=0, le=10)
    invalid_prompt: Prompts = Field(
        default_factory=lambda: [Prompt(say="Sorry, that is not a valid choice.")]
    )
    timeout_prompt: Prompts = Field(
        default_factory=lambda: [Prompt(say="Sorry, I did not hear a choice.")]
    )
    on_failure: NodeId | None = None
    """Where to go after the last retry; without it the call is hung up."""

    def implicit_hangup(self) -> bool:
        return self.on_failure is None


class MenuNode(_InputNode):
    type: Literal["menu"]
    options: dict[Key, NodeId] = Field(min_length=1)

    EDGE_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (("no valid choice", "on_failure"),)

    def routes(self) -> list[Route]:
        return [
            (f"press {k}", ("options", k), v) for k, v in self.options.items()
        ] + super().routes()


class GatherNode(_InputNode):
    type: Literal["gather"]
    store: VarName
    num_digits: int | None = Field(default=None, ge=1, le=64)
    max_digits: int = Field(default=20, ge=1, le=64)
    finish_key: Key | None = "#"
    pattern: str | None = None
    sensitive: bool = False
    next: NodeId

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(
                    f"pattern {value!r} is not a valid regular expression: {exc}"
                ) from exc
        return value

    EDGE_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("next", "next"),
        ("no valid input", "on_failure"),
    )

    @model_validator(mode="after")
    def _can_finish(self) -> GatherNode:
        if self.num_digits is None and self.finish_key is None:
            raise ValueError(
                "set `num_digits` or `finish_key`, or input could only end by a timeout"
            )
        return self


class SurveyNode(_InputNode):
    type: Literal["survey"]
    survey: str
    question: str
    min: int = Field(default=1, ge=0, le=9)
    max: int = Field(default=5, ge=0, le=9)
    store: VarName | None = None
    next: NodeId

    @model_validator(mode="after")
    def _range(self) -> SurveyNode:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    EDGE_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("answered", "next"),
        ("no answer", "on_failure"),
    )


class Branch(_Strict):
    when: ExpressionText
    next: NodeId


class ConditionNode(_Node):
    type: Literal["condition"]
    branches: list[Branch] = Field(min_length=1)
    else_: NodeId = Field(alias="else")

    def routes(self) -> list[Route]:
        return [(b.when, ("branches", i, "next"), b.next) for i, b in enumerate(self.branches)] + [
            ("else", ("else",), self.else_)
        ]


class HttpNode(_Node):
    type: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str = Field(pattern=r"^(https?://|\{)")
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    timeout_s: float = Field(default=3.0, gt=0, le=30)
    map: dict[VarName, str] = Field(default_factory=dict)
    """variable -> dotted path in the JSON reply (``account.tier``, ``items.0.id``)."""
    next: NodeId
    on_failure: NodeId

    EDGE_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (("ok", "next"), ("failed", "on_failure"))


class SetNode(_Node):
    type: Literal["set"]
    values: dict[VarName, Any] = Field(default_factory=dict)
    """Literal values; strings are templates."""
    expressions: dict[VarName, ExpressionText] = Field(default_factory=dict)
    next: NodeId


class QueueNode(_Node):
    type: Literal["queue"]
    WAITS_FOR_CALLER: ClassVar[bool] = True
    queue: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    priority: int = Field(default=0, ge=0, le=100)
    skills: list[str] = Field(default_factory=list)
    announce_position: bool = True
    announce_wait_time: bool = True
    announce_every_s: float = Field(default=60.0, gt=0)
    announcements: Prompts = Field(default_factory=list)
    hold_music: str | None = None
    max_wait_s: float | None = Field(default=None, gt=0)
    callback_key: Key | None = None
    next: NodeId
    """Where the caller goes when the agent has finished (the caller is still on the line)."""
    on_overflow: NodeId
    on_callback: NodeId | None = None

    EDGE_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("served", "next"),
        ("overflow", "on_overflow"),
        ("callback", "on_callback"),
    )

    @model_validator(mode="after")
    def _callback_pair(self) -> QueueNode:
        if (self.callback_key is None) != (self.on_callback is None):
            raise ValueError(
                "`callback_key` and `on_callback` go together: the key the "
                "caller presses and the node that takes the callback request"
            )
        return self


class TransferNode(_Node):
    type: Literal["transfer"]
    ENDS_CALL: ClassVar[bool] = True
    target: str = Field(pattern=r"^(sips?:\S+@\S+|\+?[0-9]{2,20}|\{[A-Za-z_]\w*\})$")
    timeout_s: float = Field(default=30.0, gt=0, le=300)
    on_failure: NodeId | None = None

    EDGE_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (("failed", "on_failure"),)

    def implicit_hangup(self) -> bool:
        return self.on_failure is None


class RecordNode(_Node):
    type: Literal["record", "voicemail"]
    WAITS_FOR_CALLER: ClassVar[bool] = True
    prompt: Prompts = Field(default_factory=list)
    max_s: int = Field(default=120, ge=1, le=3600)
    beep: bool = True
    finish_key: Key | None = "#"
    store: VarName | None = None
    next: NodeId


class CallbackNode(_Node):
    type: Literal["callback"]
    queue: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    number: str = "{caller}"
    priority: int = Field(default=0, ge=0, le=100)
    next: NodeId


class EscalateNode(_Node):
    type: Literal["escalate"]
    category: str
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    summary: str
    recording: str | None = None
    next: NodeId


class DoNotCallNode(_Node):
    type: Literal["do_not_call"]
    number: str = "{caller}"
    next: NodeId


class SubflowNode(_Node):
    type: Literal["subflow"]
    flow: str
    next: NodeId


class ReturnNode(_Node):
    type: Literal["return"]
    ENDS_CALL: ClassVar[bool] = True
    EDGE_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = ()


class HangupNode(_Node):
    type: Literal["hangup"]
    ENDS_CALL: ClassVar[bool] = True
    EDGE_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = ()
    reason: str = "flow finished"


Node = Annotated[
    SayNode
    | PlayNode
    | MenuNode
    | GatherNode
    | SurveyNode
    | ConditionNode
    | HttpNode
    | SetNode
    | QueueNode
    | TransferNode
    | RecordNode
    | CallbackNode
    | EscalateNode
    | DoNotCallNode
    | SubflowNode
    | ReturnNode
    | HangupNode,
    Field(discriminator="type"),
]
NODE_TYPES = (
    "say",
    "play",
    "menu",
    "gather",
    "survey",
    "condition",
    "http",
    "set",
    "queue",
    "transfer",
    "record",
    "voicemail",
    "callback",
    "escalate",
    "do_not_call",
    "subflow",
    "return",
    "hangup",
)


class HolidaySpec(_Strict):
    date: date | str
    name: str = "holiday"


def _as_ranges(value: object) -> object:
    if value in ("closed", None):
        return []
    return [value] if isinstance(value, str) else value


def _check_range(text: str) -> str:
    parse_time_range(text)
    return text


TimeRange = Annotated[str, AfterValidator(_check_range)]


class BusinessHoursSpec(_Strict):
    weekly: dict[
        Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        Annotated[list[TimeRange], BeforeValidator(_as_ranges)],
    ]
    holidays: list[date | str | HolidaySpec] = Field(default_factory=list)

    @field_validator("holidays")
    @classmethod
    def _holidays_parse(cls, value: list[date | str | HolidaySpec]) -> list[Any]:
        for item in value:
            parse_holiday(item.date if isinstance(item, HolidaySpec) else item)
        return value

    def calendar(self, timezone: ZoneInfo) -> BusinessHours:
        holidays = []
        for item in self.holidays:
            spec = item if isinstance(item, HolidaySpec) else HolidaySpec(date=item)
            holidays.append(Holiday(parse_holiday(spec.date), spec.name))
        by_day: dict[str, list[str]] = {str(k): v for k, v in self.weekly.items()}
        weekly = {day: tuple(parse_time_range(r) for r in by_day.get(day, [])) for day in WEEKDAYS}
        return BusinessHours(timezone, weekly, tuple(holidays))


class FlowSpec(_Strict):
    """The top level of a flow file."""

    name: str | None = None
    description: str | None = None
    start: NodeId | None = None
    """The first node; defaults to the first node in the file."""
    language: str = "en-US"
    voice: str | None = None
    timezone: str = "UTC"
    business_hours: BusinessHoursSpec | None = None
    variables: dict[VarName, Any] = Field(default_factory=dict)
    nodes: dict[NodeId, Node] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name like 'Europe/Berlin'"
            ) from exc
        return value

    @property
    def start_node(self) -> str:
        return self.start or next(iter(self.nodes))
