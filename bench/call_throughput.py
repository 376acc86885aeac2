"""The hot commands end to end through the Dispatcher with the in-memory Bot API, on SQLite and
PostgreSQL, each beside the bare-aiogram floor measured in the same run.

For each command (`/call`, `/note`, `/next`, `/today`, `/client`, a "Talked" press on a reminder
push): serial ms per update and updates/s, and the ratio to the floor (a Dispatcher with no
middlewares whose handler only answers, fed the same kind of update through the same in-memory
Bot API); then 20 managers sending back to back (saturation: each waits for the other 19):
throughput and p50/p99. Every manager's caches are warm before the serial runs; what the first
lookup per manager costs (the candidate cache built) is printed on its own "cold:" line. For
`/call` also 20 managers at one command per second each. Failed updates are counted (a
"database is locked" would show there). The machine's load (`uptime`) is printed at the start
and the end: on a shared machine compare ratios, not milliseconds.

    python -m bench.call_throughput [--backends sqlite,postgres] [--clients 10000] ...
    python -m bench.call_throughput --clients 2000 --activities 40000   # a quick check
    python -m bench.call_throughput --profile call --profile-out /tmp/call.txt  # pyinstrument
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import random
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.types import CallbackQuery, Chat, Message, Update, User
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.generate import GeneratedBase, generate
from bench.scratch_db import scratch_engine
from bot.app import OFFLINE_TOKEN, Application, Overrides, build
from bot.config import Settings
from bot.telegram.callbacks import Remind
from bot.telegram.local_session import LocalSession
from storage.models import Followup

PHRASES = (
    "{name} done",
    "{name} no answer",
    "{name} перезвонить через 2 недели",
    "{name} callback friday 11:00",
    "{name} сделано обсудили поставку",
)
COMMANDS = ("call", "note", "next", "today", "client", "remind")
PUSH_TEXT = "<b>Позвонить</b>: клиент ждёт звонка"


class FailureCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.samples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.samples) < 3:
            self.samples.append(record.getMessage())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "uptime unavailable"


class Updates:
    """Builds the updates the bench feeds: messages and button presses from managers."""

    def __init__(self, base: GeneratedBase) -> None:
        self._base = base
        self._ids = itertools.count(1)
        self._rng = random.Random(7)
        # Pending follow-ups per manager's Telegram id, each pressed once (see `refill`).
        self.pushes: dict[int, list[int]] = {}

    def message(self, telegram_id: int, text: str) -> Update:
        return Update(
            update_id=next(self._ids),
            message=Message(
                message_id=next(self._ids),
                date=datetime.now(UTC),
                chat=Chat(id=telegram_id, type="private"),
                from_user=User(id=telegram_id, is_bot=False, first_name="M", language_code="ru"),
                text=text,
            ),
        )

    def press(self, telegram_id: int, data: str) -> Update:
        user = User(id=telegram_id, is_bot=False, first_name="M", language_code="ru")
        push = Message(
            message_id=next(self._ids),
            date=datetime.now(UTC),
            chat=Chat(id=telegram_id, type="private"),
            from_user=User(id=1, is_bot=True, first_name="Bot"),
            text="Позвонить: клиент ждёт звонка",
        )
        query = CallbackQuery(
            id=str(next(self._ids)),
            from_user=user,
            chat_instance="bench",
            message=push,
            data=data,
        )
        return Update(update_id=next(self._ids), callback_query=query)

    def command(self, command: str, telegram_id: int, manager_id: int) -> Update:
        name = self._rng.choice(self._base.clients_by_manager[manager_id])
        if command == "call":
            return self.message(telegram_id, "/call " + self._rng.choice(PHRASES).format(name=name))
        if command == "note":
            return self.message(telegram_id, f"/note {name} обсудили поставку, ждут КП")
        if command == "next":
            return self.message(telegram_id, f"/next {name} через 3 дня 11:00 уточнить объём")
        if command == "today":
            return self.message(telegram_id, "/today")
        if command == "client":
            return self.message(telegram_id, f"/client {name}")
        if command == "remind":
            return self.press(
                telegram_id, Remind(act="done", fid=self.pushes[telegram_id].pop()).pack()
            )
        raise ValueError(command)

    async def refill(self, engine: AsyncEngine, wanted: int) -> None:
        """Every manager's pending follow-ups, read before a run of "Talked" presses."""
        by_member = dict(zip(self._base.manager_ids, self._base.manager_telegram_ids, strict=True))
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(Followup.id, Followup.manager_id).where(
                        Followup.team_id == self._base.team_id,
                        Followup.state == "pending",
                        Followup.kind == "call",
                    )
                )
            ).all()
        self.pushes = {telegram_id: [] for telegram_id in self._base.manager_telegram_ids}
        for row in rows:
            self.pushes[by_member[row.manager_id]].append(row.id)
        short = [t for t, ids in self.pushes.items() if len(ids) < wanted]
        if short:
            raise SystemExit(f"too few pending follow-ups for {len(short)} managers: more clients")


def floor_dispatcher() -> tuple[Dispatcher, Bot, LocalSession]:
    """Bare aiogram: no middlewares of ours, a handler that answers (what every command does)."""
    session = LocalSession()
    bot = Bot(
        OFFLINE_TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML)
    )
    router = Router()

    @router.message()
    async def reply(message: Message) -> None:
        await message.answer("ok")

    @router.callback_query()
    async def pressed(query: CallbackQuery, bot: Bot) -> None:
        await query.answer()
        assert query.message is not None
        await bot.edit_message_text(
            text="ok", chat_id=query.message.chat.id, message_id=query.message.message_id
        )

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher, bot, session


@dataclass
class Figures:
    serial_ms: float
    floor_ms: float
    # Processor time (all threads) per update: on a loaded machine it moves far less than the
    # wall clock, which also counts the time spent waiting for a core.
    serial_cpu_ms: float
    floor_cpu_ms: float
    burst_rate: float = 0.0
    burst: list[float] | None = None

    @property
    def serial_rate(self) -> float:
        return 1000 / self.serial_ms


async def timed(feed: Callable[[], Awaitable[Any]]) -> float:
    t0 = time.perf_counter()
    await feed()
    return (time.perf_counter() - t0) * 1000


class Bench:
    def __init__(self, backend: str, engine: AsyncEngine, base: GeneratedBase, args: Any) -> None:
        self.backend = backend
        self.engine = engine
        self.base = base
        self.args = args
        settings = Settings(_env_file=None, database_url=str(engine.url), bot_token=None)
        self.session = LocalSession(delay=args.api_delay_ms / 1000)
        overrides = Overrides(session=self.session, engine=engine, dedup_updates=False)
        self.app: Application = build(settings, overrides)
        self.updates = Updates(base)
        self.pairs = list(zip(base.manager_telegram_ids, base.manager_ids, strict=True))
        self.floor = floor_dispatcher()

    async def feed(self, update: Update) -> None:
        await self.app.dispatcher.feed_update(self.app.bot, update)

    async def one(self, command: str, telegram_id: int, manager_id: int) -> float:
        update = self.updates.command(command, telegram_id, manager_id)
        t0 = time.perf_counter()
        await self.feed(update)
        return (time.perf_counter() - t0) * 1000

    async def floor_ms(self, command: str, count: int) -> tuple[float, float]:
        dispatcher, bot, session = self.floor
        telegram_id = self.pairs[0][0]
        self.updates.pushes.setdefault(telegram_id, [])
        make = (
            (lambda: self.updates.press(telegram_id, "rm:done:1"))
            if command == "remind"
            else (lambda: self.updates.message(telegram_id, "/call Иванов done"))
        )
        best, best_cpu = float("inf"), float("inf")
        for _ in range(3):  # the least disturbed of three runs: the floor is a lower bound
            batch = [make() for _ in range(count)]
            t0, c0 = time.perf_counter(), time.process_time()
            for update in batch:
                await dispatcher.feed_update(bot, update)
            best = min(best, (time.perf_counter() - t0) * 1000 / count)
            best_cpu = min(best_cpu, (time.process_time() - c0) * 1000 / count)
            session.clear()
        return best, best_cpu

    async def cold(self) -> tuple[list[float], list[float]]:
        """A first lookup per manager (builds the candidate cache: a real cost, paid once per
        manager and roster version), then a second one (warm), both as `/client <name>`."""
        first = [await self.one("client", t, m) for t, m in self.pairs]
        second = [await self.one("client", t, m) for t, m in self.pairs]
        self.session.clear()
        return first, second

    async def serial(self, command: str) -> Figures:
        args = self.args
        if command == "remind":
            await self.updates.refill(
                self.engine, args.serial // len(self.pairs) + args.per_manager + 2
            )
        # Every manager once: per-manager caches (candidates, statements) are warm in the run.
        for telegram_id, manager_id in self.pairs:
            await self.one(command, telegram_id, manager_id)
        floor, floor_cpu = await self.floor_ms(command, max(200, args.serial // 2))
        profiler = _profiler(args, command)
        t0, c0 = time.perf_counter(), time.process_time()
        for n in range(args.serial):
            telegram_id, manager_id = self.pairs[n % len(self.pairs)]
            await self.one(command, telegram_id, manager_id)
        serial_ms = (time.perf_counter() - t0) * 1000 / args.serial
        serial_cpu = (time.process_time() - c0) * 1000 / args.serial
        if profiler is not None:
            profiler.stop()
            _write_profile(profiler, args.profile_out)
        self.session.clear()
        return Figures(serial_ms, floor, serial_cpu, floor_cpu)

    async def saturate(self, command: str, figures: Figures) -> None:
        args = self.args

        async def manager_loop(telegram_id: int, manager_id: int) -> list[float]:
            return [
                await self.one(command, telegram_id, manager_id) for _ in range(args.per_manager)
            ]

        t0 = time.perf_counter()
        results = await asyncio.gather(
            *(manager_loop(t, m) for t, m in self.pairs[: args.concurrent])
        )
        wall = time.perf_counter() - t0
        figures.burst = [ms for series in results for ms in series]
        figures.burst_rate = len(figures.burst) / wall
        self.session.clear()

    async def paced(self, command: str) -> list[float]:
        args = self.args

        async def paced_loop(index: int, telegram_id: int, manager_id: int) -> list[float]:
            # Each manager sends one command per `pace` seconds, phases spread over the interval.
            start = time.perf_counter() + args.pace * index / args.concurrent
            out = []
            for k in range(args.per_manager):
                await asyncio.sleep(max(0.0, start + k * args.pace - time.perf_counter()))
                out.append(await self.one(command, telegram_id, manager_id))
            return out

        paced = await asyncio.gather(
            *(paced_loop(i, t, m) for i, (t, m) in enumerate(self.pairs[: args.concurrent]))
        )
        self.session.clear()
        return [ms for series in paced for ms in series]


def _profiler(args: Any, command: str) -> Any:
    if args.profile != command:
        return None
    from pyinstrument import Profiler  # optional: pip install pyinstrument

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    return profiler


def _write_profile(profiler: Any, path: str) -> None:
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    if path:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
        print(f"profile written to {path}")
    else:
        print(text)


def _line(backend: str, command: str, f: Figures, concurrent: int) -> str:
    assert f.burst is not None
    ok = "ok" if f.burst_rate >= f.serial_rate else "below serial"
    return (
        f"[{backend}] /{command:<6} serial {f.serial_ms:6.2f} ms ({f.serial_rate:6.0f}/s) | "
        f"floor {f.floor_ms:.3f} ms, x{f.serial_ms / f.floor_ms:5.1f} | "
        f"cpu {f.serial_cpu_ms:5.2f} ms, floor {f.floor_cpu_ms:.3f}, "
        f"x{f.serial_cpu_ms / max(f.floor_cpu_ms, 1e-6):5.1f} | "
        f"{concurrent} back to back {f.burst_rate:6.0f}/s ({ok}), "
        f"p50 {statistics.median(f.burst):6.1f} ms, p99 {percentile(f.burst, 99):6.1f} ms"
    )


async def run_backend(backend: str, args: argparse.Namespace) -> None:
    async with scratch_engine(
        backend, "calls", **({"pool_size": 25, "max_overflow": 10} if backend != "sqlite" else {})
    ) as engine:
        started = time.perf_counter()
        base = await generate(
            engine,
            managers=args.managers,
            clients=args.clients,
            activities=args.activities,
            deals=args.deals,
            now=datetime.now(UTC),
        )
        print(
            f"[{backend}] base: {args.managers} managers, {args.clients} clients, "
            f"{args.activities} activities, {args.deals} deals "
            f"(filled in {time.perf_counter() - started:.1f} s); Bot API round trip "
            f"simulated: {args.api_delay_ms:g} ms",
            flush=True,
        )
        bench = Bench(backend, engine, base, args)
        failures = FailureCounter()
        logging.getLogger().addHandler(failures)
        try:
            first, second = await bench.cold()
            print(
                f"[{backend}] cold: first lookup per manager (candidate cache built) mean "
                f"{statistics.fmean(first):.1f} ms, max {max(first):.1f} ms; the same warm "
                f"{statistics.fmean(second):.1f} ms; build cost "
                f"~{statistics.fmean(first) - statistics.fmean(second):.1f} ms per manager "
                f"({len(first)} managers, all warm before the serial runs)",
                flush=True,
            )
            for command in args.commands.split(","):
                command = command.strip()
                figures = await bench.serial(command)
                await bench.saturate(command, figures)
                print(_line(backend, command, figures, args.concurrent), flush=True)
            if "call" in args.commands and args.pace > 0:
                paced = await bench.paced("call")
                print(
                    f"[{backend}] /call   {args.concurrent} managers at one per {args.pace:g} s "
                    f"({args.concurrent / args.pace:g}/s offered): p50 "
                    f"{statistics.median(paced):.1f} ms, p99 {percentile(paced, 99):.1f} ms, "
                    f"max {max(paced):.1f} ms"
                )
        finally:
            logging.getLogger().removeHandler(failures)
            await bench.app.bot.session.close()
        print(
            f"[{backend}] failed updates: {failures.count} {failures.samples}; "
            f"Telegram refusals: {bench.session.violations[:3]}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--commands", default=",".join(COMMANDS), help=",".join(COMMANDS))
    parser.add_argument("--managers", type=int, default=20)
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--activities", type=int, default=200_000)
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--serial", type=int, default=400, help="serial updates per command")
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--per-manager", type=int, default=25)
    parser.add_argument(
        "--api-delay-ms", type=float, default=0.0, help="simulated Bot API round trip"
    )
    parser.add_argument(
        "--pace", type=float, default=1.0, help="seconds between one manager's /call (0: skip)"
    )
    parser.add_argument("--profile", default="", help="a command whose serial run to profile")
    parser.add_argument("--profile-out", default="", help="file for the profile (default stdout)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"start: {uptime()}", flush=True)
    for backend in args.backends.split(","):
        asyncio.run(run_backend(backend.strip(), args))
    print(f"end: {uptime()}")


if __name__ == "__main__":
    main()
