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
    """Labels sort chats and contacts (`vip`, `waiting for payment`…): create one here, then
    set it with `PATCH` on a chat or a contact. Labels belong to the account and work on
    every device. At most 100 labels an account, 20 an item.

    Errors: 409 when a label with that name exists or the account has 100; 422 for a
    missing or long name or an unknown colour."""
    return _out(labels.create_label(p.c.store, p.c.clock, p.account_id, name=body.name,
                                    color=body.color, description=body.description))


@agent_route("GET", "/v1/labels", response=LabelList, summary="List labels", tag="labels")
def list_labels(p: Principal):
    """Every label of the account with its colour and description, to offer when labelling a
    chat or contact or to filter chats and contacts by label.

    Errors: 401 without a valid API key."""
    return LabelList(data=[_out(lbl) for lbl in labels.list_labels(p.c.store, p.account_id)])


@agent_route("GET", "/v1/labels/{label_id}", response=LabelOut, summary="Get a label",
             tag="labels", errors=(404,))
def get_label(p: Principal, label_id: str):
    """One label by its id, with its name, colour and description; the id is what chats and
    contacts list in `labels`.

    Errors: 404 when the label is not in this account."""
    return _out(labels.get_label(p.c.store, p.account_id, label_id))


@api.route("PATCH", "/v1/labels/{label_id}", body=UpdateLabel, response=LabelOut,
           summary="Rename or recolour a label", tag="labels", errors=(404, 409))
def update_label(p: Principal, label_id: str, body: UpdateLabel):
    """Renames or recolours a label; chats and contacts keep it.

    Errors: 404 when the label is not in this account; 409 when another label has the new
    name; 422 for an empty name or an unknown colour."""
    return _out(labels.update_label(p.c.store, p.account_id, label_id,
                                    body.model_dump(exclude_unset=True)))


@api.route("DELETE", "/v1/labels/{label_id}", status=204, tag="labels", errors=(404,),
           summary="Delete a label and take it off every chat and contact")
def delete_label(p: Principal, label_id: str):
    """Deletes the label and takes it off every chat and contact that had it.

    Errors: 404 when the label is not in this account."""
    labels.delete_label(p.c.store, p.account_id, label_id)
