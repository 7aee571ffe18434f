"""Server templates: the built-in catalog plus this operator's own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from telesip.api import schemas
from telesip.api.auth import Auth
from telesip.api.errors import AUTHED, BODY, created, responses
from telesip.domain import errors
from telesip.domain.templates import Template
from telesip.services import templates

router = APIRouter(prefix="/templates", tags=["server templates"])
TemplateId = Annotated[str, Path(min_length=1, max_length=32)]


def _out(t: Template) -> schemas.TemplateOut:
    return schemas.TemplateOut(
        id=t.id,
        name=t.name,
        kind=t.kind,
        builtin=t.builtin,
        domain=t.domain,
        transport=t.transport,
        port=t.port,
        tls_port=t.tls_port,
        expires=t.expires,
        dtmf_mode=t.dtmf_mode,
        registrar=t.registrar,
        outbound_proxy=t.outbound_proxy,
        notes=t.notes,
    )


@router.get(
    "",
    response_model=list[schemas.TemplateOut],
    summary="List templates",
    operation_id="listTemplates",
    responses=responses(*AUTHED),
)
async def list_templates(ctx: Auth) -> list[schemas.TemplateOut]:
    return [_out(t) for t in await templates.list_templates(ctx.deps, operator=ctx.operator)]


@router.post(
    "",
    status_code=201,
    response_model=schemas.TemplateOut,
    summary="Add a template",
    operation_id="createTemplate",
    responses=created(responses(*BODY, 409)),
)
async def create_template(
    ctx: Auth, body: schemas.TemplateIn, response: Response
) -> schemas.TemplateOut:
    data = body.model_dump(exclude={"name"}, exclude_none=True)
    template = await templates.create_template(ctx.deps, body.name, data, operator=ctx.operator)
    response.headers["Location"] = f"/api/v1/templates/{template.id}"
    return _out(template)


@router.get(
    "/{template_id}",
    response_model=schemas.TemplateOut,
    summary="Read a template",
    operation_id="getTemplate",
    responses=responses(*AUTHED, 404, 422),
)
async def get_template(ctx: Auth, template_id: TemplateId) -> schemas.TemplateOut:
    for t in await templates.list_templates(ctx.deps, operator=ctx.operator):
        if t.id == template_id:
            return _out(t)
    raise errors.TemplateNotFound(template_id=template_id)


@router.delete(
    "/{template_id}",
    status_code=204,
    summary="Delete an own template",
    operation_id="deleteTemplate",
    responses=responses(*AUTHED, 403, 404, 422),
)
async def delete_template(ctx: Auth, template_id: TemplateId) -> Response:
    await templates.delete_template(ctx.deps, template_id, operator=ctx.operator)
    return Response(status_code=204)
