from __future__ import annotations

from functions.api.access import agent_route
from functions.api.registry import Principal, api
from functions.api.schemas_chats import CreateLabel, LabelList, LabelOut, UpdateLabel
from shared.services import labels


def _out(label) -> LabelOut:
    return LabelOut.model_validate(label.model_dump())


@api.route("POST", "/v1/labels", body=CreateLabel, response=LabelOut, status=201,
           summary="Create a label for chats and contacts", tag="labels", errors=(409,))
def create_label(p: Principal, body: CreateLabel):
    return _out(labels.create_label(p.c.store, p.c.clock, p.account_id, name=body.name,
                                    color=body.color, description=body.description))


@agent_route("GET", "/v1/labels", response=LabelList, summary="List labels", tag="labels")
def list_labels(p: Principal):
    return LabelList(data=[_out(lbl) for lbl in labels.list_labels(p.c.store, p.account_id)])


@agent_route("GET", "/v1/labels/{label_id}", response=LabelOut, summary="Get a label",
             tag="labels", errors=(404,))
def get_label(p: Principal, label_id: str):
    return _out(labels.get_label(p.c.store, p.account_id, label_id))


@api.route("PATCH", "/v1/labels/{label_id}", body=UpdateLabel, response=LabelOut,
           summary="Rename or recolour a label", tag="labels", errors=(404, 409))
def update_label(p: Principal, label_id: str, body: UpdateLabel):
    return _out(labels.update_label(p.c.store, p.account_id, label_id,
                                    body.model_dump(exclude_unset=True)))


@api.route("DELETE", "/v1/labels/{label_id}", status=204, tag="labels", errors=(404,),
           summary="Delete a label and take it off every chat and contact")
def delete_label(p: Principal, label_id: str):
    labels.delete_label(p.c.store, p.account_id, label_id)
