"""The Mini App's portfolio requests as the page makes them: the main numbers with each client
list's first rows (GET portfolio?top=N), the charts' series on their own (GET
portfolio/series), the rest of a list a page at a time (GET portfolio/list) and a matrix cell's
clients (GET portfolio/cell); role by role (a stranger, a removed member and forged initData
are in test_miniapp_api.py's table of endpoints), bad input refused, and the numbers the
service's (the chat's /portfolio's) to the kopeck. On SQLite and PostgreSQL through the real
application."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.miniapp import portfolio_shapes
from bot.miniapp.shapes import decimal
from bot.services.context import Actor
from bot.services.portfolio.periods import month_of
from tests.support.builders import HEAD, MANAGER, OTHER, OWNER, TeamSpec
from tests.support.harness import BotHarness, Person
from tests.support.miniapp import ApiClient, api_client, miniapp_settings

DECEMBER = {"period": "M202612"}
# Max's four clients with a potential and the other manager's two; three of Max's buy.
MAX_CLIENTS = ("Alfa", "Beta", "Gamma", "Delta")
OTHER_CLIENTS = ("Omega", "Sigma")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return miniapp_settings(tmp_path)


@pytest.fixture
def team_spec() -> TeamSpec:
    return TeamSpec(
        invited=(MANAGER, OTHER, (HEAD, "head")),
        commands=(
            *(
                (MANAGER, f"/add {name}, potential: {n}00000")
                for n, name in enumerate(MAX_CLIENTS, 1)
            ),
            *(
                (OTHER, f"/add {name}, potential: {n}50000")
                for n, name in enumerate(OTHER_CLIENTS, 1)
            ),
            (MANAGER, "/deal Alfa 30000"),
            (MANAGER, "/deal Beta 10000.50"),
            (MANAGER, "/deal Gamma 5000"),
            (OTHER, "/deal Omega 70000"),
        ),
        clear=True,
    )


@pytest.fixture
async def api(team: BotHarness) -> AsyncIterator[ApiClient]:
    async with api_client(team) as client:
        yield client


async def member_id(api: ApiClient, person: Person) -> int:
    async with api.harness.uow_factory() as uow:
        member = await uow.members.by_telegram_id(person.id)
    assert member is not None
    return member.id


async def service_report(api: ApiClient, person: Person, manager: int | None) -> Any:
    async with api.harness.uow_factory() as uow:
        member, team = await uow.members.with_team(person.id)  # type: ignore[misc]
        services = api.server.parts.services(uow)
        actor = Actor(member, team)
        period = month_of(api.harness.clock.now().date())
        report = await services.portfolio.report(actor, period, manager)
        series = await services.portfolio.quality_series(actor, period, manager)
        weeks = await services.portfolio.activity_weeks(actor, period, manager)
    return report, series, weeks


def refused(status: int, body: dict[str, Any], expected_status: int, code: str) -> None:
    assert (status, body["error"]["code"]) == (expected_status, code), body
    assert body["error"]["message"]


async def read_all(api: ApiClient, person: Person, path: str, params: dict[str, str]) -> list[str]:
    """A list read one line a page, as the page's "Show more" walks it."""
    names: list[str] = []
    offset = 0
    while True:
        status, page = await api.get(
            path, person, params={**params, "offset": str(offset), "limit": "1"}
        )
        assert status == 200, page
        assert (page["offset"], page["limit"]) == (offset, 1)
        names += [line["name"] for line in page["items"]]
        offset += 1
        if offset >= page["total"]:
            assert len(names) == page["total"]
            return names


# -- the main numbers ------------------------------------------------------------------------


async def test_the_main_numbers_carry_each_lists_first_rows_and_its_total(api: ApiClient):
    status, body = await api.get("/portfolio", OWNER, params={**DECEMBER, "top": "2"})
    assert status == 200, body
    report, _series, _weeks = await service_report(api, OWNER, None)
    assert body["top"] == 2
    assert body["plan_total"] == len(report.planned) == 6
    assert [line["name"] for line in body["plan"]] == [line.name for line in report.planned[:2]]
    assert body["gained_total"] == 4 and len(body["gained"]) == 2
    # The charts' series are no longer part of it: they come from portfolio/series.
    assert "quality_series" not in body and "activity_weeks" not in body
    # To the kopeck, as the service (and so the chat's /portfolio) counts it.
    assert body["total"]["revenue"] == f"{report.total.now.revenue:.2f}" == "115000.50"


async def test_without_top_the_lists_are_cut_to_the_default(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(portfolio_shapes, "DEFAULT_TOP", 3)
    status, body = await api.get("/portfolio", OWNER, params=DECEMBER)
    assert status == 200 and body["top"] == 3
    assert len(body["plan"]) == 3 and body["plan_total"] == 6


@pytest.mark.parametrize("top", ["0", "10001", "-1", "lots", ""])
async def test_a_bad_top_is_a_bad_request(api: ApiClient, top: str):
    status, answer = await api.get("/portfolio", OWNER, params={**DECEMBER, "top": top})
    refused(status, answer, 400, "bad_request")
    assert answer["error"]["field"] == "top"


async def test_shaping_and_serialising_run_off_the_event_loop(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch
):
    threads: list[str] = []
    for name in ("report", "series", "page"):
        real = getattr(portfolio_shapes, name)

        def spy(*args: Any, _real: Any = real, **kw: Any) -> Any:
            threads.append(threading.current_thread().name)
            return _real(*args, **kw)

        monkeypatch.setattr(portfolio_shapes, name, spy)
    for path, params in (
        ("/portfolio", DECEMBER),
        ("/portfolio/series", DECEMBER),
        ("/portfolio/list", {**DECEMBER, "section": "plan"}),
        ("/portfolio/cell", {**DECEMBER, "cell": "AZ"}),
    ):
        status, _body = await api.get(path, OWNER, params=params)
        assert status == 200
    assert len(threads) >= 4
    assert threading.main_thread().name not in threads, threads


# -- the charts' series ----------------------------------------------------------------------


async def test_the_series_are_the_services_numbers(api: ApiClient):
    status, body = await api.get("/portfolio/series", OWNER, params=DECEMBER)
    assert status == 200, body
    _report, series, (weeks, per_kind) = await service_report(api, OWNER, None)
    assert body["period"] == "M202612" and body["manager"] is None
    assert body["activity_weeks"] == {
        "weeks": [w.isoformat() for w in weeks],
        "counts": {kind: list(counts) for kind, counts in per_kind.items()},
    }
    assert sum(body["activity_weeks"]["counts"]["deal"]) == 4
    by_manager = {line["manager"]["id"]: line for line in body["quality_series"]}
    assert set(by_manager) == set(series) and len(series) == 2
    for manager, points in series.items():
        line = by_manager[manager]
        assert line["manager"]["name"] in (MANAGER.first_name, OTHER.first_name)
        assert [p["period"] for p in line["points"]] == [p.key for p, _ in points]
        for shown, (_p, shares) in zip(line["points"], points, strict=True):
            assert shown["value"] == decimal(shares["A"])
            assert shown["shares"] == {k: decimal(v) for k, v in shares.items()}
    # Its last point is the quality section's "now" (the main numbers).
    status, main = await api.get("/portfolio", OWNER, params=DECEMBER)
    for quality in main["quality"]:
        last = by_manager[quality["manager"]["id"]]["points"][-1]
        assert last["shares"] == quality["now"]


async def test_a_manager_gets_only_their_own_series(api: ApiClient):
    me, other = await member_id(api, MANAGER), await member_id(api, OTHER)
    status, body = await api.get("/portfolio/series", MANAGER, params=DECEMBER)
    assert status == 200, body
    assert body["manager"]["id"] == me
    assert [line["manager"]["id"] for line in body["quality_series"]] == [me]
    assert sum(body["activity_weeks"]["counts"]["deal"]) == 3  # Alfa, Beta, Gamma
    status, answer = await api.get(
        "/portfolio/series", MANAGER, params={**DECEMBER, "manager": str(other)}
    )
    refused(status, answer, 403, "portfolio_own_only")


@pytest.mark.parametrize("person", [HEAD, OWNER])
async def test_head_and_owner_get_the_team_or_one_member(api: ApiClient, person: Person):
    other = await member_id(api, OTHER)
    status, team = await api.get("/portfolio/series", person, params=DECEMBER)
    assert status == 200 and len(team["quality_series"]) == 2
    status, one = await api.get(
        "/portfolio/series", person, params={**DECEMBER, "manager": str(other)}
    )
    assert status == 200 and one["manager"] == {"id": other, "name": OTHER.first_name}
    assert [line["manager"]["id"] for line in one["quality_series"]] == [other]
    assert sum(one["activity_weeks"]["counts"]["deal"]) == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "M202613"}, "period"),
        ({"period": "x" * 30}, "period"),
        ({"manager": "x"}, "manager"),
        ({"manager": "0"}, "manager"),
        ({"manager": str(2**31)}, "manager"),
    ],
)
async def test_a_bad_series_request_names_its_field(
    api: ApiClient, params: dict[str, str], field: str
):
    status, answer = await api.get("/portfolio/series", OWNER, params=params)
    refused(status, answer, 400, "bad_request")
    assert answer["error"]["field"] == field


async def test_a_member_not_in_the_team_is_refused_for_the_series(api: ApiClient):
    status, answer = await api.get("/portfolio/series", OWNER, params={"manager": "999999"})
    assert status == 400 and answer["error"]["code"] == "pick_expired", answer


# -- paging through a list and a cell -----------------------------------------------------------


async def test_paging_through_a_list_gives_the_reports_order(api: ApiClient):
    report, _series, _weeks = await service_report(api, OWNER, None)
    expected = [line.name for line in report.planned]
    status, _main = await api.get("/portfolio", OWNER, params={**DECEMBER, "top": "1"})
    assert status == 200
    params = {**DECEMBER, "section": "plan"}
    assert await read_all(api, OWNER, "/portfolio/list", params) == expected
    status, whole = await api.get("/portfolio/list", OWNER, params={**params, "limit": "1000"})
    assert [line["name"] for line in whole["items"]] == expected
    # Past the end: nothing, and the total still.
    status, past = await api.get("/portfolio/list", OWNER, params={**params, "offset": "6"})
    assert status == 200 and (past["items"], past["total"]) == ([], 6)
    # The lines are the service's, to the kopeck.
    by_name = {line.name: line for line in report.planned}
    for line in whole["items"]:
        assert line["revenue"] == f"{by_name[line['name']].now.revenue:.2f}"
        assert line["penetration"] == decimal(report.penetration(by_name[line["name"]]))


async def test_a_managers_list_and_cell_are_their_own(api: ApiClient):
    me, other = await member_id(api, MANAGER), await member_id(api, OTHER)
    plan = await read_all(api, MANAGER, "/portfolio/list", {**DECEMBER, "section": "plan"})
    assert sorted(plan) == sorted(MAX_CLIENTS)
    for path, extra in (
        ("/portfolio/list", {"section": "plan"}),
        ("/portfolio/cell", {"cell": "AZ"}),
    ):
        status, answer = await api.get(
            path, MANAGER, params={**DECEMBER, **extra, "manager": str(other)}
        )
        refused(status, answer, 403, "portfolio_own_only")
    status, mine = await api.get(
        "/portfolio/list", MANAGER, params={**DECEMBER, "section": "plan", "manager": str(me)}
    )
    assert status == 200 and mine["total"] == 4
    # Head and owner read any member's list.
    for person in (HEAD, OWNER):
        status, theirs = await api.get(
            "/portfolio/list", person, params={**DECEMBER, "section": "plan", "manager": str(other)}
        )
        assert status == 200 and sorted(i["name"] for i in theirs["items"]) == sorted(OTHER_CLIENTS)


async def test_a_cell_is_read_a_page_at_a_time(api: ApiClient):
    status, main = await api.get("/portfolio", OWNER, params=DECEMBER)
    counts = main["matrix"]["counts"]
    report, _series, _weeks = await service_report(api, OWNER, None)
    for cell, n in counts.items():
        expected = sorted(
            (line for line in report.clients if line.cell == cell),
            key=lambda line: (-line.now.revenue, line.name, line.id),
        )
        got = await read_all(api, OWNER, "/portfolio/cell", {**DECEMBER, "cell": cell}) if n else []
        assert got == [line.name for line in expected], cell
        assert len(got) == n
    status, first = await api.get("/portfolio/cell", OWNER, params={**DECEMBER, "cell": "AZ"})
    assert status == 200 and first["cell"] == "AZ" and first["total"] == counts["AZ"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/portfolio/list", {"section": "secrets"}, "section"),
        ("/portfolio/list", {}, "section"),
        ("/portfolio/list", {"section": "plan", "limit": "0"}, "limit"),
        ("/portfolio/list", {"section": "plan", "limit": "1001"}, "limit"),
        ("/portfolio/list", {"section": "plan", "offset": "-1"}, "offset"),
        ("/portfolio/list", {"section": "plan", "offset": "many"}, "offset"),
        ("/portfolio/list", {"section": "plan", "period": "Y20x6"}, "period"),
        ("/portfolio/cell", {"cell": "QQ"}, "cell"),
        ("/portfolio/cell", {"cell": "AZ", "limit": "5000"}, "limit"),
        ("/portfolio/cell", {"cell": "AZ", "manager": "-2"}, "manager"),
    ],
)
async def test_a_bad_page_request_names_its_field(
    api: ApiClient, path: str, params: dict[str, str], field: str
):
    status, answer = await api.get(path, OWNER, params=params)
    refused(status, answer, 400, "bad_request")
    assert answer["error"]["field"] == field


# -- the snapshot the pages read ----------------------------------------------------------------


async def test_list_pages_follow_a_new_deal_and_a_client_given_to_another(api: ApiClient):
    params = {**DECEMBER, "section": "gained"}
    status, before = await api.get("/portfolio", MANAGER, params=DECEMBER)
    assert status == 200 and before["gained_total"] == 3
    await api.harness.send(MANAGER, "/deal Delta 1234.56")
    status, page = await api.get("/portfolio/list", MANAGER, params=params)
    assert page["total"] == 4 and "Delta" in [line["name"] for line in page["items"]]
    delta = next(line for line in page["items"] if line["name"] == "Delta")
    assert delta["revenue"] == "1234.56"
    # A client given to another manager leaves the first one's lists at once.
    other = await member_id(api, OTHER)
    status, _ = await api.patch(f"/clients/{delta['id']}", OWNER, {"values": {"manager": other}})
    assert status == 200
    status, page = await api.get("/portfolio/list", MANAGER, params=params)
    assert "Delta" not in [line["name"] for line in page["items"]] and page["total"] == 3
    status, cell = await api.get(
        "/portfolio/cell", MANAGER, params={**DECEMBER, "cell": delta["cell"] or "CZ"}
    )
    assert "Delta" not in [line["name"] for line in cell["items"]]


async def test_the_main_numbers_are_always_fresh(api: ApiClient):
    """A potential edited in the card changes no data version: the main numbers are built
    afresh all the same (and the pages after them read the new snapshot)."""
    status, before = await api.get("/portfolio", OWNER, params=DECEMBER)
    alfa = next(line for line in before["plan"] if line["name"] == "Alfa")
    assert alfa["potential"] == "100000.00"
    status, _ = await api.patch(f"/clients/{alfa['id']}", MANAGER, {"values": {"potential": "2m"}})
    assert status == 200
    status, after = await api.get("/portfolio", OWNER, params=DECEMBER)
    alfa = next(line for line in after["plan"] if line["name"] == "Alfa")
    assert alfa["potential"] == "2000000.00"
    report, _series, _weeks = await service_report(api, OWNER, None)
    assert [line["name"] for line in after["plan"]] == [line.name for line in report.planned]
    params = {**DECEMBER, "section": "plan"}
    assert await read_all(api, OWNER, "/portfolio/list", params) == [
        line.name for line in report.planned
    ]


async def test_the_series_follow_a_new_deal_and_the_members_language(api: ApiClient):
    status, before = await api.get("/portfolio/series", MANAGER, params={"period": "Q20264"})
    assert status == 200 and sum(before["activity_weeks"]["counts"]["deal"]) == 3
    assert before["quality_series"][0]["points"][-1]["label"] == "Q4 2026"
    await api.harness.send(MANAGER, "/deal Delta 500")
    status, after = await api.get("/portfolio/series", MANAGER, params={"period": "Q20264"})
    assert sum(after["activity_weeks"]["counts"]["deal"]) == 4
    await api.harness.send(MANAGER, "/settings lang ru")
    status, russian = await api.get("/portfolio/series", MANAGER, params={"period": "Q20264"})
    assert russian["quality_series"][0]["points"][-1]["label"] != "Q4 2026"
    assert russian["activity_weeks"] == after["activity_weeks"]
