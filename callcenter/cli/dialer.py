"""``callcenter dialer``: run the campaign simulator; judge recordings with the AMD."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer

from callcenter.cli.context import state
from callcenter.errors import ConfigError
from dialer import compliance, local_rules
from dialer.amd import AmdResult, AmdSettings, Verdict
from dialer.amd_wav import AudioFileError, detect_file, label_of, score
from dialer.campaigns import CampaignRepository, rules_of
from dialer.pacing import AdaptivePacer, Pacer, PredictivePacer, ProgressivePacer
from dialer.sim import ClairvoyantPacer, SimConfig, SimResult, simulate

app = typer.Typer(
    help="Predictive dialer tools: simulate a campaign with a chosen pacer; answering-machine "
    "detection on recordings."
)


@app.callback()
def dialer() -> None:
    """Predictive dialer tools."""


class PacerName(StrEnum):
    progressive = "progressive"
    adaptive = "adaptive"
    predictive = "predictive"
    clairvoyant = "clairvoyant"


def make_pacer(name: PacerName) -> Pacer:
    match name:
        case PacerName.progressive:
            return ProgressivePacer()
        case PacerName.adaptive:
            return AdaptivePacer()
        case PacerName.clairvoyant:
            return ClairvoyantPacer()
        case _:
            return PredictivePacer()


@app.command("simulate")
def simulate_cmd(
    agents: int = typer.Option(20, min=1, help="Agents logged in."),
    answer_rate: float = typer.Option(
        0.3, min=0.0, max=1.0, help="Share of calls a person answers."
    ),
    talk: float = typer.Option(120.0, min=1.0, help="Mean talk time, seconds."),
    wrap: float = typer.Option(10.0, min=0.1, help="Mean wrap-up time, seconds."),
    duration: float = typer.Option(3600.0, min=60.0, help="Simulated time, seconds."),
    pacer: PacerName = typer.Option(PacerName.predictive, help="Pacing algorithm."),
    abandon_target: float = typer.Option(0.03, min=0.0, max=1.0, help="Abandon target."),
    seed: int = typer.Option(0, help="Random seed (same seed, same result)."),
    plot: Path | None = typer.Option(None, help="Write occupancy over time to this PNG."),
) -> None:
    """Simulate a campaign and print occupancy, abandon rate and calls per agent-hour."""
    cfg = SimConfig(
        agents=agents,
        answer_rate=answer_rate,
        talk_mean_s=talk,
        wrap_mean_s=wrap,
        duration_s=duration,
        abandon_target=abandon_target,
        seed=seed,
    )
    result = simulate(cfg, make_pacer(pacer))
    typer.echo(report(result, pacer.value))
    if plot is not None:
        typer.echo(plot_occupancy(result, plot, pacer.value))


def report(r: SimResult, pacer: str) -> str:
    return "\n".join(
        [
            f"pacer                 {pacer}",
            f"occupancy             {100 * r.occupancy:.1f} %",
            f"abandon rate          {100 * r.abandon_rate:.2f} % "
            f"({r.abandoned} of {r.answered_human})",
            f"calls per agent-hour  {r.calls_per_agent_hour:.1f}",
            f"dialed                {r.dialed} (machines {r.answered_machine},"
            f" humans lost to AMD {r.amd_lost_humans})",
        ]
    )


def plot_occupancy(r: SimResult, path: Path, pacer: str) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "No plot written: matplotlib is not installed (pip install matplotlib)."
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot([t / 60 for t, _ in r.occupancy_series], [100 * o for _, o in r.occupancy_series])
    ax.set_xlabel("minutes")
    ax.set_ylabel("occupancy %")
    ax.set_ylim(0, 100)
    ax.set_title(f"Occupancy over time ({pacer})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return f"Plot: {path}"


@app.command("amd")
def amd_cmd(
    paths: list[Path] = typer.Argument(
        ..., help="WAV recordings from the answer on, or folders of them (*.wav, recursively)."
    ),
    fixed: bool = typer.Option(
        False, "--fixed", help="app_amd's fixed energy threshold instead of the adaptive one."
    ),
) -> None:
    """Judge recordings person or machine: verdict, reason, decision time per file. Files
    under a folder named human/ or machine/ are labelled: the accuracy is printed too."""
    settings = AmdSettings(adaptive=not fixed)
    labelled: list[tuple[Verdict, AmdResult]] = []
    failed = 0
    for path in wav_files(paths):
        try:
            result = detect_file(path, settings)
        except AudioFileError as exc:
            typer.echo(f"callcenter: error: {exc}", err=True)
            failed += 1
            continue
        truth = label_of(path)
        mark = "" if truth is None else ("  ok" if result.verdict is truth else "  WRONG")
        typer.echo(f"{path}  {result.verdict.value:8} {result.reason:24} "
                   f"{result.decision_s:5.2f} s{mark}")
        if truth is not None:
            labelled.append((truth, result))
    if labelled:
        sc = score(labelled)
        typer.echo(
            f"{sc.judged} labelled: accuracy {100 * sc.accuracy:.1f} %, persons judged machines "
            f"{100 * sc.human_as_machine:.1f} %, machines judged persons "
            f"{100 * sc.machine_as_human:.1f} %, not sure {sc.not_sure}, mean decision time "
            f"{sc.mean_decision_s:.2f} s ({'fixed' if fixed else 'adaptive'} threshold)"
        )
    if failed:
        raise typer.Exit(1)


def wav_files(paths: list[Path]) -> list[Path]:
    """Files as given; folders searched for *.wav (any case), in name order."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() == ".wav" and f.is_file())
        else:
            out.append(p)
    return out


@app.command("rules")
def rules_cmd(
    ctx: typer.Context,
    number: str | None = typer.Argument(
        None, help="A number to check (E.164, or national in --region); none: list the table."
    ),
    lead_state: str | None = typer.Option(
        None, "--state", help="The US state the lead lives in (TX or Texas), as a lead's "
        "state column says."),
    timezone: str | None = typer.Option(
        None, help="The lead's own zone (IANA name or US state code), as its timezone column."),
    at: str | None = typer.Option(
        None, help="When to check, ISO 8601 with an offset (default: now)."),
    campaign: str | None = typer.Option(
        None, help="Check with this campaign's window and settings (default: 09:00-20:00)."),
    region: str = typer.Option("US", help="Region for a number without a country code."),
) -> None:
    """The stricter local calling rules (US states, countries) the dialer applies; with a
    number, which places' rules apply to it and whether it may be called now, or when."""
    _ = state(ctx).settings  # loads dialer.local_rules from the settings
    table = local_rules.active_rules()
    if number is None:
        typer.echo(f"{len(table.by_place)} places, from {table.origin}"
                   + (f" (reviewed {table.reviewed})" if table.reviewed else "")
                   + ": not legal advice, review with counsel")
        for rule in table.by_place.values():
            typer.echo(rule.describe())
        return
    rules = compliance.CampaignRules(local_rules=table, default_region=region)
    if campaign is not None:
        with state(ctx).database().session() as s:
            rules = rules_of(CampaignRepository(s).get(campaign))
    when = _when(at)
    e164 = compliance.normalise(number, rules.default_region)
    if e164 is None:
        raise ConfigError(f"{number!r} is not a valid phone number in region "
                          f"{rules.default_region}: give it in E.164 (+12125550100) or pass "
                          "--region")
    places = local_rules.called_party_places(e164, local_rules.lead_state(
        {"state": lead_state} if lead_state else {}), timezone)
    typer.echo(f"{e164}: places {', '.join(places) or 'none known'}")
    for rule in rules.local_rules.applying(places):
        typer.echo(f"  {rule.describe()}")
    decision = compliance.check_dial(e164, rules, compliance.DncLists(), (),
                                     compliance.AbandonCounts(), when, timezone, lead_state)
    if decision.allowed:
        typer.echo(f"may be called at {when.isoformat()}")
        return
    opens = decision.next_allowed_at
    typer.echo(f"not at {when.isoformat()}: {decision.reason.value}"
               + (f" ({decision.detail})" if decision.detail else "")
               + (f"; next allowed {opens.isoformat()}" if opens else ""))


def _when(at: str | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ConfigError(f"--at {at!r} is not an ISO 8601 time with an offset: e.g. "
                          "2026-12-06T10:30:00-05:00")
    return when
