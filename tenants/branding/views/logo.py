"""The brand's logo: upload (the image's bytes as the body, or multipart field ``logo``),
serve one square WebP variant, remove."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import parsers, status
from rest_framework.response import Response

from accounts.permissions import IsTelegramUser, ManageBots
from branding import selectors
from branding.logo import MAX_BYTES, SIZES
from branding.services.logo import brand_logo_remove, brand_logo_set
from branding.views.base import BrandEndpoint
from branding.views.brand import BrandOutputSerializer
from config.api import ApiError
from history.services import Actor

SIZE = OpenApiParameter(
    "size", int, OpenApiParameter.PATH, enum=list(SIZES), description="side in pixels"
)


def _bounded(stream: Any) -> bytes:
    """At most one byte past the limit: enough to refuse a larger upload unread."""
    return stream.read(MAX_BYTES + 1) if stream is not None else b""


class RawImageParser(parsers.BaseParser):
    """The image's bytes as the body; what they are is decided from the bytes."""

    media_type = "image/*"

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        return _bounded(stream)


class OctetStreamParser(RawImageParser):
    media_type = "application/octet-stream"


class BrandLogoView(BrandEndpoint):
    permission_classes = [ManageBots]
    parser_classes = [RawImageParser, OctetStreamParser, parsers.MultiPartParser]

    def _upload(self, request) -> bytes:
        data = request.data
        if isinstance(data, bytes):
            return data
        upload = data.get("logo") if hasattr(data, "get") else None
        if upload is None or isinstance(upload, str):
            raise ApiError(
                "send the image as the body, or as the multipart file field 'logo'",
                code="logo_missing",
            )
        return _bounded(upload)

    @extend_schema(
        request={
            "application/octet-stream": OpenApiTypes.BINARY,
            "multipart/form-data": {
                "type": "object",
                "properties": {"logo": {"type": "string", "format": "binary"}},
                "required": ["logo"],
            },
        },
        responses={200: BrandOutputSerializer, 413: OpenApiResponse(description="over 2 MB")},
        summary="Upload the logo: PNG, JPEG or WebP up to 2 MB (also as image/png, "
        "image/jpeg, image/webp); re-encoded without metadata as square WebP 512/128/64",
    )
    def put(self, request):
        brand = brand_logo_set(
            tenant=self.tenant,
            data=self._upload(request),
            actor=Actor.user(request.user),
            request=request,
        )
        return Response(BrandOutputSerializer(brand).data)

    @extend_schema(request=None, responses={204: None}, summary="Remove the logo")
    def delete(self, request):
        brand_logo_remove(tenant=self.tenant, actor=Actor.user(request.user), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BrandLogoFileView(BrandEndpoint):
    # The Mini App shows the logo to everyone in the community.
    permission_classes = [IsTelegramUser]

    def perform_content_negotiation(self, request, force=False):
        # The answer is an image whatever the Accept header (an <img> asks for image/*);
        # errors stay JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        parameters=[SIZE],
        responses={
            (200, "image/webp"): OpenApiTypes.BINARY,
            304: OpenApiResponse(description="If-None-Match matched the ETag"),
        },
        summary="The logo as a square WebP (ETag: the upload's digest and the size)",
    )
    def get(self, request, size: int):
        if size not in SIZES:
            raise ApiError(
                f"logos come in sizes {', '.join(map(str, SIZES))}",
                code="logo_size_unknown",
                status_code=404,
            )
        found = selectors.brand_logo(size=size)
        if found is None:
            raise ApiError("the brand has no logo", code="logo_not_found", status_code=404)
        sha256, webp = found
        etag = f'"{sha256[:32]}-{size}"'
        if etag in request.headers.get("If-None-Match", ""):
            response = HttpResponse(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = HttpResponse(webp, content_type="image/webp")
        response["ETag"] = etag
        response["Cache-Control"] = "private, max-age=300"
        return response
