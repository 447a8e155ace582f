"""``manage.py jobs list|retry|cancel``: the durable job queue from a shell.

list [--status S] [--kind K] [--limit N]   newest first, one line per job
retry ID                                    run a dead, failed or cancelled job again now
cancel ID                                   cancel a pending or failed job
Errors print one line and exit 2.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from botruntime.models import Job
from botruntime.selectors import job_list
from botruntime.services import job_cancel, job_retry
from config.errors import ServiceError
from history.services import Actor

CLI = Actor.system("cli")


def _error_line(text: str, width: int = 60) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else ""  # a traceback's last line names the error
    return last if len(last) <= width else last[: width - 1] + "…"


class Command(BaseCommand):
    help = "List durable jobs, retry a dead one, or cancel a pending one."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        listing = sub.add_parser("list", help="list jobs, newest first")
        listing.add_argument("--status", choices=Job.Status.values, default=None)
        listing.add_argument("--kind", default=None, help="only jobs of this kind")
        listing.add_argument("--limit", type=int, default=100)
        retry = sub.add_parser("retry", help="run a dead, failed or cancelled job again now")
        retry.add_argument("job_id", type=int, metavar="ID")
        cancel = sub.add_parser("cancel", help="cancel a pending or failed job")
        cancel.add_argument("job_id", type=int, metavar="ID")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except ServiceError as exc:
            raise CommandError(exc.message, returncode=2) from exc

    def _list(self, options: dict[str, Any]) -> None:
        jobs = job_list(status=options["status"], kind=options["kind"], limit=options["limit"])
        header = ("ID", "KIND", "TENANT", "STATUS", "ATTEMPTS", "RUN AT", "LAST ERROR")
        rows = [
            (
                job.pk,
                job.kind,
                job.tenant.slug if job.tenant else "-",
                job.status,
                job.attempts,
                job.run_at.strftime("%Y-%m-%d %H:%M:%S"),
                _error_line(job.last_error),
            )
            for job in jobs
        ]
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            line = "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True))
            self.stdout.write(line.rstrip())
        self.stdout.write(f"{len(rows)} job(s)")

    def _retry(self, options: dict[str, Any]) -> None:
        job = job_retry(job_id=options["job_id"], actor=CLI)
        self.stdout.write(self.style.SUCCESS(f"job {job.pk} ({job.kind}) is pending again"))

    def _cancel(self, options: dict[str, Any]) -> None:
        job = job_cancel(job_id=options["job_id"], actor=CLI)
        self.stdout.write(self.style.SUCCESS(f"job {job.pk} ({job.kind}) cancelled"))
