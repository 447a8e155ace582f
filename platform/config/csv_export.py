"""Streamed CSV exports of the API: a view mixes in ``CsvExport`` and answers
``csv_response(rows, filename)``, its rows produced one at a time (``csv_writer``), so an
export of any length holds one page in memory. Errors stay JSON whatever the client
accepts: a spreadsheet of an error helps nobody."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from typing import Any

from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView


class CsvRenderer(BaseRenderer):
    """Lets a client ask for ``Accept: text/csv``; the export itself is streamed, and
    errors are answered as JSON (``CsvExport.finalize_response``)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):
        return JSONRenderer().render(data, accepted_media_type, renderer_context)


class CsvExport(APIView):
    """Mixed into a view (before its endpoint base): JSON or CSV accepted; an error (a
    ``Response``) is always JSON."""

    renderer_classes: Sequence[type[BaseRenderer]] = [JSONRenderer, CsvRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class _Echo:
    """A file whose ``write`` hands the line back, so ``csv.writer`` formats one row at
    a time for the stream."""

    def write(self, value: str) -> str:
        return value


def csv_writer() -> Any:
    """A ``csv.writer`` whose ``writerow`` returns the formatted line."""
    return csv.writer(_Echo())


def csv_response(rows: Iterator[str], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(rows, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
