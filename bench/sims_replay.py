"""The QuickBooks simulator's CPU on a real workload, in one process (issue 15).

``record`` runs ``bench/pipeline.py`` (same arguments) and keeps every qbXML message set the
Web Connector simulator hands the QuickBooks simulator, with the company file as it was
before the first set and the simulator's clock at each set; it also prints the demo
summary's wall and CPU seconds (the summary is part of the bench process's CPU figure).
``replay`` runs those sets again on a fresh copy of that company file with the recorded
clock: CPU seconds (best of ``--runs``), optionally a cProfile, and ``--answers FILE`` to
compare the answers of two revisions byte for byte (iterator ids, which are random,
blanked). Run it on another revision's code with that revision's tree on PYTHONPATH (see
``bench/console.py``'s ``source_env``).

    .venv/bin/python bench/sims_replay.py record --out sets.pickle -- --orders 1000 --db postgres
    .venv/bin/python bench/sims_replay.py replay sets.pickle --runs 5 --answers new.txt

The recording is this machine's own file (pickle), never read from elsewhere.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pickle
import pstats
import re
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

_ITERATOR_ID = re.compile(r'iteratorID="[^"]*"')


def record(out: Path, pipeline_args: list[str]) -> int:
    import bench.pipeline as pipeline  # noqa: PLC0415 (needs RabbitMQ settings only here)
    import omni2qbd.demo.flow as flow  # noqa: PLC0415
    from omni2qbd_sims.quickbooks.persistence import _Pickler  # noqa: PLC0415
    from omni2qbd_sims.webconnector import qb_link  # noqa: PLC0415

    sets: list[tuple[datetime, str]] = []
    initial: list[bytes] = []
    process_request = qb_link.LocalQuickBooks.process_request

    async def recording(self: qb_link.LocalQuickBooks, company_path: str, qbxml: str) -> str:
        company = self.sim.company(company_path)
        if not initial:
            buffer = io.BytesIO()
            with company.lock:
                _Pickler(buffer).dump(company)
            initial.append(buffer.getvalue())
        sets.append((company.now(), qbxml))
        return await process_request(self, company_path, qbxml)

    # The name the demo's flow calls (imported into it), timed around the call.
    build_summary = vars(flow)["build_summary"]

    async def timed_summary(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return await build_summary(*args, **kwargs)
        finally:
            print(
                f"summary: {time.perf_counter() - wall:.2f} s wall, "
                f"{time.process_time() - cpu:.2f} s CPU of the bench process",
                flush=True,
            )

    qb_link.LocalQuickBooks.process_request = recording  # type: ignore[method-assign]
    vars(flow)["build_summary"] = timed_summary
    code = pipeline.main(pipeline_args)
    out.write_bytes(pickle.dumps({"initial": initial[0] if initial else None, "sets": sets}))
    print(f"recorded {len(sets)} message sets in {out}")
    return code


def replay(path: Path, runs: int, answers: Path | None, profile: bool) -> int:
    recorded = pickle.loads(path.read_bytes())  # our own file (see the docstring)
    profiler = cProfile.Profile() if profile else None
    best: float | None = None
    for _ in range(runs):
        company = pickle.loads(recorded["initial"])
        texts: list[str] = []
        cpu = 0.0
        for when, qbxml in recorded["sets"]:
            company._clock = _fixed(when)
            started = time.process_time()
            answer = _answer(company.process_request, qbxml, profiler)
            cpu += time.process_time() - started
            texts.append(_ITERATOR_ID.sub('iteratorID="-"', answer))
        best = cpu if best is None else min(best, cpu)
        if answers is not None:
            answers.write_text("\n".join(texts))
    requests = sum(len(re.findall(r"<\w+Rq[ >]", q)) for _, q in recorded["sets"])
    assert best is not None
    print(
        f"{len(recorded['sets'])} sets, {requests} requests: best of {runs} runs "
        f"{best:.3f} s CPU, {1000 * best / max(requests, 1):.3f} ms per request"
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    return 0


def _fixed(when: datetime) -> Callable[[], datetime]:
    return lambda: when


def _answer(process: Callable[[str], str], qbxml: str, profiler: cProfile.Profile | None) -> str:
    if profiler is not None:
        profiler.enable()
    try:
        return process(qbxml)
    except Exception as exc:  # a set QuickBooks refuses whole: compared like an answer
        return f"{type(exc).__name__}: {exc}"
    finally:
        if profiler is not None:
            profiler.disable()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="run bench/pipeline.py and keep its message sets")
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("pipeline_args", nargs=argparse.REMAINDER, help="-- then pipeline.py's")
    rep = commands.add_parser("replay", help="run recorded message sets in this process")
    rep.add_argument("recording", type=Path)
    rep.add_argument("--runs", type=int, default=3)
    rep.add_argument("--answers", type=Path, default=None, help="write the answers here")
    rep.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "record":
        rest = [a for a in args.pipeline_args if a != "--"]
        return record(args.out, rest)
    return replay(args.recording, args.runs, args.answers, args.profile)


if __name__ == "__main__":
    sys.exit(main())
