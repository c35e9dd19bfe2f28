"""Escalation rules, joining an open ticket, back-office routing and mail rules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from callcenter.backoffice.acd_assigner import AcdAssigner
from callcenter.ivr import CreateTicket
from callcenter.tickets import (
    BackofficeTask,
    CallAbandoned,
    CallDispositioned,
    CallerCalledAgain,
    EscalationRules,
    IvrEscalated,
    LeastLoadedAssigner,
    Priority,
    Status,
    SurveyScored,
    VoicemailLeft,
    escalate,
    ticket_to_join,
)
from callcenter.tickets.mail_rules import (
    automatic_reason,
    is_loop,
    referenced_ids,
    tagged_subject,
    ticket_number_in,
)
from tests.unit.tickets.tickets_support import T0

RULES = EscalationRules(repeat_caller_s=24 * 3600)


def test_ivr_escalate_node_becomes_an_escalation_with_a_stable_key() -> None:
    action = CreateTicket("billing", "high", "Not resolved in IVR", "+4930111", "c1", "r.wav")
    event = IvrEscalated(
        action.call_id,
        action.caller,
        action.category,
        Priority(action.priority),
        action.summary,
        T0,
        action.recording,
    )
    first, again = escalate(event, RULES, T0), escalate(event, RULES, T0 + timedelta(hours=1))
    assert first is not None and first == again  # a retry is the same escalation
    assert (first.key, first.priority, first.customer.number) == (
        "ivr:c1",
        Priority.HIGH,
        "+4930111",
    )


@pytest.mark.parametrize(
    ("event", "escalates"),
    [
        (CallDispositioned("c", "+1", "complaint", "ann", T0, "angry"), True),
        (CallDispositioned("c", "+1", "resolved", "ann", T0), False),
        (CallAbandoned("c", "+1", "sales", 61, T0), True),
        (CallAbandoned("c", "+1", "sales", 59, T0), False),
        (VoicemailLeft("c", "+1", "vm.wav", T0), True),
        (SurveyScored("c", "+1", "csat", 2, (("q1", 2),)), True),
        (SurveyScored("c", "+1", "csat", 3), False),
        (CallerCalledAgain("c", "+1", "b", T0 - timedelta(hours=23), T0), True),
        (CallerCalledAgain("c", "+1", "b", T0 - timedelta(hours=25), T0), False),
    ],
)
def test_each_rule_fires_only_past_its_threshold(event, escalates: bool) -> None:  # type: ignore[no-untyped-def]
    assert (escalate(event, RULES, T0) is not None) is escalates


def test_rules_switched_off_never_escalate() -> None:
    off = EscalationRules(abandon_after_s=None, survey_threshold=None, voicemail=False)
    assert escalate(CallAbandoned("c", "+1", "q", 9999, T0), off, T0) is None
    assert escalate(SurveyScored("c", "+1", "s", 0), off, T0) is None
    assert escalate(VoicemailLeft("c", "+1", "v", T0), off, T0) is None
    assert escalate(CallerCalledAgain("c", "+1", "b", T0, T0), off, T0) is None


def test_escalation_joins_the_newest_live_ticket() -> None:
    assert (
        ticket_to_join([(1, Status.OPEN), (4, Status.PENDING_CUSTOMER), (5, Status.RESOLVED)]) == 4
    )
    assert ticket_to_join([(5, Status.RESOLVED), (6, Status.CLOSED)]) is None


def task(
    ident: str,
    channel: str = "chat",
    prio: Priority = Priority.NORMAL,
    at: int = 0,
    preferred: str | None = None,
) -> BackofficeTask:
    return BackofficeTask(ident, channel, prio, T0 + timedelta(seconds=at), preferred)


ASSIGNERS = [LeastLoadedAssigner, AcdAssigner]


@pytest.mark.parametrize("make", ASSIGNERS)
def test_least_loaded_agent_with_capacity_per_channel(make) -> None:  # type: ignore[no-untyped-def]
    a = make()
    assert a.submit(task("c1")) == [] and not a.can_serve("chat")
    got = a.agent_present("ann", {"chat": 2, "ticket": 1})
    assert [(x.task.id, x.agent) for x in got] == [("c1", "ann")]
    a.agent_present("bob", {"chat": 2, "ticket": 0})
    assert a.submit(task("c2"))[0].agent == "bob"  # ann has 1 of 2 in use, bob 0 of 2
    assert a.submit(task("t1", "ticket"))[0].agent == "ann"  # bob takes no tickets
    assert a.submit(task("t2", "ticket")) == []  # ann's one ticket slot is used
    assert [x.task.id for x in a.finish("t1")] == ["t2"]


@pytest.mark.parametrize("make", ASSIGNERS)
def test_urgent_first_and_preferred_agent_waits_for_its_agent(make) -> None:  # type: ignore[no-untyped-def]
    a = make()
    a.submit(task("low", prio=Priority.LOW, at=0))
    a.submit(task("urgent", prio=Priority.URGENT, at=5))
    a.submit(task("cb", "ticket", preferred="bob"))
    got = a.agent_present("ann", {"chat": 1, "ticket": 1})
    assert [(x.task.id, x.agent) for x in got] == [("urgent", "ann"), ("cb", "ann")]
    b = make()
    b.agent_present("ann", {"ticket": 1})
    b.agent_present("bob", {"ticket": 1})
    assert b.submit(task("cb", "ticket", preferred="bob"))[0].agent == "bob"
    assert [t.id for t in b.agent_gone("bob")] == ["cb"]


def test_ticket_tags_and_reply_threading() -> None:
    assert ticket_number_in("Re: AW: [#T-42] router") == 42
    assert ticket_number_in("[t-7]") == 7 and ticket_number_in("T-42 no brackets") is None
    assert tagged_subject(42, "Re: [#T-42] router") == "Re: [#T-42] router"
    assert tagged_subject(42, "") == "[#T-42] Your request"
    assert referenced_ids("<a@x>", "<r1@x> <r2@x> <a@x>") == ["<a@x>", "<r2@x>", "<r1@x>"]


@pytest.mark.parametrize(
    ("headers", "sender", "automatic"),
    [
        ({}, "ann@example.com", False),
        ({"auto-submitted": "auto-replied"}, "ann@example.com", True),
        ({"auto-submitted": "no"}, "ann@example.com", False),
        ({"precedence": "bulk"}, "ann@example.com", True),
        ({"x-autoreply": "yes"}, "ann@example.com", True),
        ({}, "MAILER-DAEMON@example.com", True),
        ({}, "", True),
    ],
)
def test_automatic_mail_is_recognised(
    headers: dict[str, str], sender: str, automatic: bool
) -> None:
    assert (automatic_reason(headers, sender) is not None) is automatic


def test_our_own_mail_coming_back_is_a_loop() -> None:
    assert is_loop({"x-loop": "Support@Example.com"}, "x@y", "support@example.com")
    assert is_loop({}, "support@example.com", "support@example.com")
    assert not is_loop({}, "ann@example.com", "support@example.com")
