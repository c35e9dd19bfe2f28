"""Campaign results: survey answers (a summary per question, a CSV export and a PNG chart)
and the accuracy of answering-machine detection as the agents heard it.

For each question: how many leads answered, the count and share of each answer, and the mean
when every answer is a number (a 1-5 rating); ``mean`` is None for free or mixed answers.
The chart needs matplotlib (in the dev group, not a runtime dependency).

The CSV holds what leads' files and callers put in (names, survey answers): a cell that a
spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or CR) is
written with a leading ``'``, as OWASP's CSV-injection advice says, except a phone number in
E.164 (``+`` and digits only): it is the data the reader expects, and a spreadsheet reads it
as a number, never as a call to a function.

AMD accuracy (:func:`amd_accuracy`): of the calls AMD passed to an agent as a person, how many
the agent dispositioned ``machine`` (a miss: a machine let through). Synthesised greetings
flatter any detector; this is the live measure.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.errors import CallCenterError
from callcenter.store.models import Call, Disposition
from dialer.campaigns import CampaignRepository
from dialer.ports import Result
from dialer.store import Lead, LeadAttempt, SurveyAnswer

MACHINE_DISPOSITION = "machine"  # seeded by migration 0001: "Answering machine"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_E164 = re.compile(r"\+[1-9]\d{1,14}")


def spreadsheet_safe(cell: str) -> str:
    """``cell`` as a spreadsheet shows it without running it (see the module docstring)."""
    if cell.startswith(_FORMULA_START) and not _E164.fullmatch(cell):
        return "'" + cell
    return cell


@dataclass(frozen=True)
class QuestionSummary:
    question: str
    responses: int
    counts: dict[str, int]
    shares: dict[str, float]
    mean: float | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class AmdAccuracy:
    """AMD's verdicts on a campaign's answered calls, checked against the agents' ears.

    ``judged_human``: calls AMD passed as a person (to an agent, or dropped when none was
    free); ``judged_machine``: calls it judged a machine (no agent hears those, so a person
    judged a machine cannot be counted here); ``dispositioned``: calls passed to an agent that
    the agent gave a disposition; ``agent_said_machine``: of those, the ones dispositioned
    ``machine``; ``miss_rate`` = agent_said_machine / dispositioned (None before any)."""

    judged_human: int
    judged_machine: int
    dispositioned: int
    agent_said_machine: int
    miss_rate: float | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def amd_accuracy(session: Session, campaign: str) -> AmdAccuracy:
    """AMD accuracy of ``campaign``. The agent's disposition is the attempt's when the voice
    layer reported one, else the one set on the call record (``POST
    /api/calls/{id}/disposition``, usually in wrap-up, after the attempt closed)."""
    cid = CampaignRepository(session).get(campaign).id
    code = func.coalesce(LeadAttempt.disposition, Disposition.code)
    rows = session.execute(
        select(LeadAttempt.outcome, code, func.count())
        .outerjoin(Call, Call.id == LeadAttempt.call_id)
        .outerjoin(Disposition, Disposition.id == Call.disposition_id)
        .where(LeadAttempt.campaign_id == cid,
               LeadAttempt.outcome.in_([Result.HUMAN, Result.ABANDONED, Result.MACHINE]))
        .group_by(LeadAttempt.outcome, code))
    human = machine = dispositioned = said_machine = 0
    for outcome, disposition, n in rows:
        if outcome == Result.MACHINE:
            machine += n
            continue
        human += n
        if outcome == Result.HUMAN and disposition is not None:
            dispositioned += n
            said_machine += n if disposition == MACHINE_DISPOSITION else 0
    return AmdAccuracy(human, machine, dispositioned, said_machine,
                       said_machine / dispositioned if dispositioned else None)


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def summarise(session: Session, campaign: str) -> list[QuestionSummary]:
    """One summary per question, in question order; answers by count, then value."""
    cid = CampaignRepository(session).get(campaign).id
    by_question: dict[str, Counter[str]] = defaultdict(Counter)
    for question, value in session.execute(
            select(SurveyAnswer.question, SurveyAnswer.value)
            .where(SurveyAnswer.campaign_id == cid)):
        by_question[question][value] += 1
    out = []
    for question in sorted(by_question):
        counts = by_question[question]
        total = sum(counts.values())
        ordered = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        numbers = [_number(v) for v in counts.elements()]
        mean = (sum(n for n in numbers if n is not None) / total
                if numbers and all(n is not None for n in numbers) else None)
        out.append(QuestionSummary(question, total, ordered,
                                   {v: n / total for v, n in ordered.items()}, mean))
    return out


def export_csv(session: Session, campaign: str, out: TextIO) -> int:
    """Write one row per answer (lead, question, value, time); returns the rows written."""
    cid = CampaignRepository(session).get(campaign).id
    writer = csv.writer(out)
    writer.writerow(["phone", "external_id", "first_name", "last_name", "question", "value",
                     "answered_at"])
    rows = session.execute(
        select(Lead.phone, Lead.external_id, Lead.first_name, Lead.last_name,
               SurveyAnswer.question, SurveyAnswer.value, SurveyAnswer.answered_at)
        .join(Lead, Lead.id == SurveyAnswer.lead_id)
        .where(SurveyAnswer.campaign_id == cid)
        .order_by(Lead.phone, SurveyAnswer.question))
    n = 0
    for phone, ext, first, last, question, value, at in rows:
        cells = (phone, ext, first, last, question, value)
        writer.writerow([*(spreadsheet_safe(str(c)) for c in cells), at.isoformat()])
        n += 1
    return n


def chart(summaries: list[QuestionSummary], path: Path, title: str = "") -> Path:
    """A bar chart of the shares of each answer, one panel per question."""
    if not summaries:
        raise CallCenterError("no survey answers yet: nothing to chart")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CallCenterError("the chart needs matplotlib: pip install matplotlib") from None
    fig, axes = plt.subplots(len(summaries), 1, figsize=(8, 2.6 * len(summaries)),
                             squeeze=False)
    for ax, s in zip(axes[:, 0], summaries, strict=True):
        labels = list(s.shares)
        ax.barh(labels, [100 * s.shares[v] for v in labels])
        mean = f", mean {s.mean:.2f}" if s.mean is not None else ""
        ax.set_title(f"{s.question} ({s.responses} answers{mean})")
        ax.set_xlabel("% of answers")
        ax.set_xlim(0, 100)
        ax.invert_yaxis()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
