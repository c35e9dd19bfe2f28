"""``callcenter campaign``: create, import leads, start / pause / stop, status, results.

Thin: each command is one call into :mod:`dialer.campaigns` or :mod:`dialer.results`. Start,
pause and stop change the campaign's state in the database; the running engine's dialer
service picks the change up within a few seconds.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path

import typer
from pydantic import ValidationError

from callcenter.cli.context import state
from callcenter.errors import ConfigError
from dialer.callbacks import ANYONE, list_callbacks
from dialer.caller_id_usage import PoolReport, pool_report
from dialer.caller_ids import HEALTH_DAYS
from dialer.campaigns import (
    CampaignRepository,
    CampaignSettings,
    LeadFlow,
    import_csv,
    lead_flow,
)
from dialer.exports import export_attempts, export_leads
from dialer.leads import LEAD_ZONE_FIELD, ColumnMapping, CsvFormat, parse_numbers_file
from dialer.recycle import outcomes_from, recycle
from dialer.results import AmdAccuracy, amd_accuracy, chart, export_csv, summarise

app = typer.Typer(
    help="Outbound campaigns: create, import leads, start, pause, stop, status.",
    no_args_is_help=True,
)


def _now() -> datetime:
    return datetime.now(UTC)


ENCODING = typer.Option(
    None, help="The file's encoding (utf-8, cp1252, latin-1, utf-16, ...); default: "
    "detected (byte-order mark, else UTF-8, else Windows-1252).",
)
DELIMITER = typer.Option(
    None, help="comma, semicolon, tab or pipe; default: detected from the header line."
)


def progress_line(stage: str, n: int) -> None:
    """Progress of a large import, on one stderr line (``read 20000 rows``)."""
    print(f"\r{stage} {n} rows", end="", file=sys.stderr, flush=True)


@app.command("create")
def create_cmd(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Campaign name (letters, digits, . _ -)."),
    kind: str = typer.Option("telemarketing", help="telemarketing (agents) or survey."),
    caller_id: str = typer.Option(..., "--caller-id", help="Number shown to the called party."),
    voice_layer: str = typer.Option("sip", help="sip or twilio."),
    dial_mode: str | None = typer.Option(
        None, help="preview, progressive, predictive (default) or agentless (surveys)."
    ),
    queue: str | None = typer.Option(None, help="The agents' queue (telemarketing)."),
    flow: str | None = typer.Option(None, help="The survey flow (surveys) or agent script."),
    max_lines: int = typer.Option(10, help="Most calls in flight at once."),
    abandon_target: float = typer.Option(0.03, help="Abandoned / live answered, at most 0.03."),
    window: str = typer.Option("09:00-20:00", help="Calling window, called party's local time."),
    weekdays: str = typer.Option("0123456", help="Days to call, 0 = Monday."),
    holiday: list[str] = typer.Option([], help="A date not to call (YYYY-MM-DD); repeatable."),
    timezone: str | None = typer.Option(
        None,
        help="Fallback zone (IANA, e.g. America/Chicago) for leads whose zone neither "
        "their timezone column nor their number tells.",
    ),
    region: str = typer.Option("US", help="Region for numbers without a country code."),
    ring_timeout: float = typer.Option(25.0, help="Seconds a call rings (at least 15)."),
    amd: bool = typer.Option(
        False, "--amd/--no-amd",
        help="Answering-machine detection on answered calls (machines are hung up on).",
    ),
    local_rules: bool = typer.Option(
        True, "--local-rules/--no-local-rules",
        help="Apply the stricter law of the called party's state or country (hours, Sundays, "
        "legal holidays, call caps: `callcenter dialer rules`). Off only for exempt calls.",
    ),
    public_holidays: bool = typer.Option(
        False, "--public-holidays/--no-public-holidays",
        help="No calls on the public holidays of the called party's country and state.",
    ),
    script: Path | None = typer.Option(
        None, help="A text file with the agents' script; {{first_name}}, {{number}} or a "
        "CSV column's name in it is replaced by the lead's value on the agent's screen."),
    caller_id_pool: list[str] = typer.Option(
        [], "--caller-id-pool", metavar="NUMBER",
        help="A number of the caller-ID pool (E.164); repeatable. Each must be one the "
        "business may use and that can be called back."),
    caller_id_pool_file: Path | None = typer.Option(
        None, "--caller-id-pool-file", metavar="FILE",
        help="The pool from a file: one number per line, or a CSV whose phone column "
        "holds them."),
    caller_id_strategy: str | None = typer.Option(
        None, help="fixed (--caller-id), rotate (least used today) or local (the called "
        "party's area code, else state, else country); default: local with a pool."),
    caller_id_daily_cap: int | None = typer.Option(
        None, metavar="N", help="Most calls a shown number places a day; then leads wait "
        "(CALLER_ID_CAP)."),
    callback_owner_wait: int | None = typer.Option(
        None, metavar="MINUTES",
        help="Minutes past its time an agent-only callback waits for its agent; then any "
        "agent may take it (default: it waits until a supervisor reassigns it).",
    ),
    retry: str | None = typer.Option(
        None,
        help='Retry rules as JSON, e.g. \'{"outcome": {"busy": {"delay_s": 600, '
        '"max_retries": 3}}}\'.',
    ),
) -> None:
    """Create a campaign in the draft state."""
    try:
        start, _, end = window.partition("-")
        settings = CampaignSettings(
            name=name,
            kind=kind,
            caller_id=caller_id,
            voice_layer=voice_layer,
            dial_mode=dial_mode,
            queue=queue,
            flow=flow,
            max_lines=max_lines,
            abandon_target=abandon_target,
            window_start=time.fromisoformat(start),
            window_end=time.fromisoformat(end),
            weekdays=[int(d) for d in weekdays],
            holidays=[date.fromisoformat(h) for h in holiday],
            timezone=timezone,
            region=region,
            ring_timeout_s=ring_timeout,
            amd=amd,
            local_rules=local_rules,
            public_holidays=public_holidays,
            script=_read_script(script),
            caller_ids=[*caller_id_pool, *_read_pool(caller_id_pool_file, region)],
            caller_id_strategy=caller_id_strategy,
            caller_id_daily_cap=caller_id_daily_cap,
            callback_owner_wait_min=callback_owner_wait,
            retry=json.loads(retry) if retry else {},
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "campaign"
        raise ConfigError(f"{where}: {err['msg'].removeprefix('Value error, ')}") from None
    except ValueError as exc:
        raise ConfigError(f"campaign {name!r}: {exc}") from None
    with state(ctx).database().session() as s:
        c = CampaignRepository(s).create(settings)
        typer.echo(
            f"campaign {c.name} created ({c.kind}, {c.dial_mode}, {c.voice_layer}): "
            f"import leads with `callcenter campaign import {c.name} FILE.csv`"
        )


def _read_script(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--script {path}: cannot read it ({exc}): give a UTF-8 text file") \
            from None


def _read_pool(path: Path | None, region: str) -> list[str]:
    if path is None:
        return []
    try:
        parsed = parse_numbers_file(path, region=region)
    except OSError as exc:
        raise ConfigError(f"--caller-id-pool-file {path}: cannot read it ({exc})") from None
    if parsed.bad_rows:
        bad = parsed.bad_rows[0]
        raise ConfigError(f"{path}:{bad.line}: {bad.reason}: give the caller-ID pool one "
                          "E.164 number per line (or a CSV with a phone column)")
    return list(parsed.numbers)


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with a header."),
    phone: str = typer.Option(
        "phone", help="Column of the phone number (default: phone, or one column named "
        "phone number, telephone, tel, mobile, cell, number or msisdn)."
    ),
    first_name: str = typer.Option("first_name", help="Column of the first name."),
    last_name: str = typer.Option("last_name", help="Column of the last name."),
    external_id: str | None = typer.Option(None, help="Column of your own lead id."),
    timezone_column: str = typer.Option(
        LEAD_ZONE_FIELD,
        help="Column of the lead's own zone (IANA name or US state code), if the file has it.",
    ),
    region: str | None = typer.Option(
        None, help="Region of national numbers (default: the campaign's)."
    ),
    encoding: str | None = ENCODING,
    delimiter: str | None = DELIMITER,
) -> None:
    """Import leads from a CSV; bad rows are listed with their line number."""
    mapping = ColumnMapping(phone, first_name, last_name, external_id, timezone=timezone_column)
    report = import_csv(state(ctx).database(), name, file, mapping, region, progress_line,
                        CsvFormat(encoding, delimiter))
    print(file=sys.stderr)
    typer.echo(
        f"{file}: {report.rows} rows, {report.added} leads added, {report.merged} "
        f"merged duplicates, {len(report.bad_rows)} bad rows"
    )
    for bad in report.bad_rows:
        typer.echo(f"{file}:{bad.line}: {bad.reason}")


def _move(ctx: typer.Context, name: str, wanted: str) -> None:
    with state(ctx).database().session() as s:
        c = CampaignRepository(s).transition(name, wanted, _now())
        typer.echo(f"campaign {c.name} is {c.state}")


@app.command("start")
def start_cmd(ctx: typer.Context, name: str) -> None:
    """Start (or resume) dialing."""
    _move(ctx, name, "running")


@app.command("pause")
def pause_cmd(ctx: typer.Context, name: str) -> None:
    """Stop placing new calls; calls in flight finish."""
    _move(ctx, name, "paused")


@app.command("stop")
def stop_cmd(ctx: typer.Context, name: str) -> None:
    """End the campaign for good."""
    _move(ctx, name, "stopped")


def render_amd(a: AmdAccuracy) -> str:
    miss = f"{100 * a.miss_rate:.1f} %" if a.miss_rate is not None else "unknown (no dispositions)"
    return "\n".join(
        [
            f"AMD judged human  {a.judged_human}",
            f"  dispositioned   {a.dispositioned}",
            f"  agent: machine  {a.agent_said_machine}",
            f"  miss rate       {miss}",
            f"AMD judged mach.  {a.judged_machine}",
        ]
    )


def render_flow(f: LeadFlow) -> str:
    dry = f.runs_dry_at.strftime("%Y-%m-%d %H:%M UTC") if f.runs_dry_at else "unknown (no pace)"
    return "\n".join(
        [
            f"campaign          {f.campaign} ({f.state})",
            *([f"run by node       {f.run_by}"] if f.run_by else
              [f"run by node       none: {f.not_run_why}"] if f.not_run_why else []),
            f"leads             {f.total}",
            f"  dialable now    {f.dialable_now}",
            f"  waiting window  {f.waiting_window}",
            f"  waiting retry   {f.waiting_retry}",
            *([f"  waiting for     {why}"] if (why := ", ".join(
                f"{k} {v}" for k, v in f.waiting_why.items())) else []),
            f"  dialing         {f.dialing}",
            f"  done            {f.done}",
            f"  do not call     {f.dnc}",
            f"  failed          {f.failed}",
            f"  zone unknown    {f.zone_unknown}",
            f"  callbacks       {f.callbacks_scheduled} scheduled, "
            f"{f.callbacks_for_owner} due for their agent",
            f"pace              {f.attempts_last_hour} attempts in the last hour",
            f"runs dry          {dry}",
        ]
    )


@app.command("status")
def status_cmd(ctx: typer.Context, name: str | None = typer.Argument(None)) -> None:
    """The lead flow of one campaign, or the list of campaigns."""
    with state(ctx).database().session() as s:
        if name is not None:
            typer.echo(render_flow(lead_flow(s, name, _now())))
            typer.echo(render_amd(amd_accuracy(s, name)))
            typer.echo(render_pool(pool_report(s, CampaignRepository(s).get(name), _now())))
            return
        campaigns = CampaignRepository(s).list()
        if not campaigns:
            typer.echo("no campaigns: create one with `callcenter campaign create`")
        for c in campaigns:
            typer.echo(f"{c.name:20} {c.state:10} {c.kind:14} {c.dial_mode:12} {c.voice_layer}")


def render_pool(r: PoolReport) -> str:
    cap = f"cap {r.daily_cap} calls a day" if r.daily_cap is not None else "no daily cap"
    lines = [f"caller IDs        {r.strategy}, {cap} (day from "
             f"{r.day_starts:%Y-%m-%d %H:%M} UTC)"
             + (": every number reached it" if r.used_up else ""),
             f"  {'number':16} {'today':>6} {'calls':>7} {'answers':>8} {'rate':>7}"
             f"   (last {r.days} days)"]
    for n in r.numbers:
        rate = f"{100 * n.answer_rate:5.1f} %" if n.answer_rate is not None else "      -"
        flag = "  SUSPECT: answered far less than the pool (labelled spam?)" if n.suspect else ""
        lines.append(f"  {n.number:16} {n.calls_today:6} {n.calls:7} {n.answers:8} {rate}"
                     + flag)
    return "\n".join(lines)


@app.command("caller-ids")
def caller_ids_cmd(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The campaign."),
    days: int = typer.Option(HEALTH_DAYS, min=1, max=366, help="Days of calls to judge by."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """Each caller ID of the campaign: calls today, and over the last days calls, answers by
    a person, answer rate, and SUSPECT when a number with 50 calls or more is answered at
    under half the pool's rate (the sign of a number labelled spam)."""
    with state(ctx).database().session() as s:
        report = pool_report(s, CampaignRepository(s).get(name), _now(), days)
    typer.echo(json.dumps(report.as_dict(), indent=2) if as_json else render_pool(report))


@app.command("recycle")
def recycle_cmd(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The campaign."),
    outcome: list[str] = typer.Option(
        [], help="Recycle leads closed on this outcome: busy, no_answer, machine, failed, "
        "abandoned; repeatable (default: busy, no_answer, machine)."),
    older_than: float = typer.Option(
        24.0, "--older-than-hours", min=0.0, help="Only leads last called at least this long ago."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count, change nothing."),
) -> None:
    """Put leads whose retries ran out back into the list for another round (never leads a
    person answered; the lifetime attempt limit, DNC and calling windows still apply)."""
    with state(ctx).database().session() as s:
        report = recycle(s, name, outcomes_from(outcome), timedelta(hours=older_than), _now(),
                         dry_run)
    outcomes = ", ".join(f"{k} {v}" for k, v in report.by_outcome.items()) or "none"
    verb = "would be recycled" if dry_run else "recycled"
    typer.echo(f"{report.recycled} leads {verb} ({outcomes}); {report.at_attempt_limit} at "
               f"the attempt limit, {report.too_recent} called too recently; campaign "
               f"{report.campaign} is {report.campaign_state}"
               + (": start it with `callcenter campaign start`" if report.recycled
                  and report.campaign_state == "paused" and not dry_run else ""))


@app.command("results")
def results_cmd(
    ctx: typer.Context,
    name: str,
    csv_path: Path | None = typer.Option(None, "--csv", help="Write every answer to this CSV."),
    chart_path: Path | None = typer.Option(None, "--chart", help="Write a PNG chart here."),
) -> None:
    """Survey results: answers per question with counts, shares and mean."""
    with state(ctx).database().session() as s:
        summaries = summarise(s, name)
        if not summaries:
            typer.echo(f"campaign {name}: no survey answers yet")
        for q in summaries:
            mean = f", mean {q.mean:.2f}" if q.mean is not None else ""
            typer.echo(f"{q.question}: {q.responses} answers{mean}")
            for value, n in q.counts.items():
                typer.echo(f"  {value:20} {n:6}  {100 * q.shares[value]:5.1f} %")
        if csv_path is not None:
            with csv_path.open("w", newline="", encoding="utf-8") as out:
                rows = export_csv(s, name, out)
            typer.echo(f"CSV: {csv_path} ({rows} answers)")
    if chart_path is not None:
        typer.echo(f"Chart: {chart(summaries, chart_path, f'Survey {name}')}")


class ExportWhat(StrEnum):
    leads = "leads"
    attempts = "attempts"


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The campaign."),
    what: ExportWhat = typer.Argument(..., help="leads (one row per lead, its custom fields "
                                      "too) or attempts (one row per call placed)."),
    out: Path | None = typer.Option(None, "--out", help="Write the CSV here (default: stdout)."),
    status: list[str] = typer.Option([], help="leads: only this status; repeatable."),
    since: str | None = typer.Option(
        None, help="attempts: only calls placed from this time (ISO 8601, e.g. 2026-12-01)."),
) -> None:
    """A campaign's leads or call attempts as CSV, for reports and compliance records."""
    start = None
    if since is not None:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            raise ConfigError(f"--since {since!r} is not an ISO 8601 date or time "
                              "(2026-12-01 or 2026-12-01T09:00:00-05:00)") from None
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
    sink = out.open("w", newline="", encoding="utf-8") if out else sys.stdout
    try:
        with state(ctx).database().session() as s:
            n = (export_leads(s, name, sink, status) if what is ExportWhat.leads
                 else export_attempts(s, name, sink, start))
    finally:
        if out:
            sink.close()
    if out:
        typer.echo(f"CSV: {out} ({n} {what.value})")


@app.command("callbacks")
def callbacks_cmd(
    ctx: typer.Context,
    name: str,
    agent: str | None = typer.Option(None, help=f"Only this agent's callbacks ({ANYONE}: "
                                     "those for any agent)."),
    state_: str = typer.Option("pending", "--state",
                               help="pending, done, cancelled, missed, or all."),
) -> None:
    """Scheduled callbacks by due time: when, for whom, the lead, and what each waits for."""
    with state(ctx).database().session() as s:
        rows = list_callbacks(s, _now(), name, agent, None if state_ == "all" else state_)
    if not rows:
        typer.echo(f"campaign {name}: no {'' if state_ == 'all' else state_ + ' '}callbacks")
    for cb in rows:
        due = cb.due_at.strftime("%Y-%m-%d %H:%M UTC")
        who = cb.owner or ANYONE
        what = cb.waiting or cb.state
        lead = f"{cb.number} {cb.first_name} {cb.last_name}".strip()
        typer.echo(f"{cb.id:6}  {due}  {who:12} {what:18} {lead}  {cb.note}".rstrip())
