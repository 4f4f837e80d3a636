"""Every route of the API: (method, path, module under functions/api/routes, handler), in
the order the OpenAPI document lists them. The app registers its URL rules from this table
alone; a route's module (and its schemas and services) is imported by its first request,
or by anything that asks for every route (`api.routes`: the OpenAPI document, the
generated Terraform, the tests). A route is declared in its module with `@api.route` and
listed here; tests/unit/test_api_route_table.py fails, naming the line to add, when the
two differ."""

from __future__ import annotations

ROUTES: tuple[tuple[str, str, str, str], ...] = (
    ("GET", "/v1/health", "accounts", "health"),
    ("POST", "/v1/accounts", "accounts", "create_account"),
    ("POST", "/v1/api-keys", "accounts", "create_api_key"),
    ("GET", "/v1/api-keys", "accounts", "list_api_keys"),
    ("DELETE", "/v1/api-keys/{key_id}", "accounts", "delete_api_key"),
    ("GET", "/v1/account/settings", "accounts", "get_account_settings"),
    ("PATCH", "/v1/account/settings", "accounts", "update_account_settings"),

    ("POST", "/v1/agents", "agents", "create_agent"),
    ("GET", "/v1/agents", "agents", "list_agents"),
    ("GET", "/v1/agents/me", "agents", "me"),
    ("GET", "/v1/devices/{device_id}/agents", "agents", "device_agents"),
    ("GET", "/v1/agents/{agent_id}", "agents", "get_agent"),
    ("PATCH", "/v1/agents/{agent_id}", "agents", "update_agent"),
    ("DELETE", "/v1/agents/{agent_id}", "agents", "delete_agent"),
    ("PUT", "/v1/agents/{agent_id}/devices/{device_id}", "agents", "grant_device"),
    ("DELETE", "/v1/agents/{agent_id}/devices/{device_id}", "agents", "revoke_device"),
    ("POST", "/v1/agents/{agent_id}/token", "agents", "rotate_token"),

    ("GET", "/v1/plans", "billing", "list_plans"),
    ("GET", "/v1/billing/details", "billing", "get_details"),
    ("PUT", "/v1/billing/details", "billing", "put_details"),
    ("GET", "/v1/devices/{device_id}/subscription", "billing", "get_subscription"),
    ("POST", "/v1/devices/{device_id}/subscription", "billing", "subscribe"),
    ("DELETE", "/v1/devices/{device_id}/subscription", "billing", "cancel_subscription"),
    ("GET", "/v1/billing/invoices", "billing", "list_invoices"),
    ("POST", "/v1/billing/portal", "billing", "portal"),
    ("GET", "/v1/billing/return", "billing", "billing_return"),

    ("POST", "/v1/devices/{device_id}/chats/{chat_id}/read", "chat_read", "read_chat"),

    ("GET", "/v1/devices/{device_id}/chats", "chats", "list_chats"),
    ("GET", "/v1/devices/{device_id}/chats/{chat_id}", "chats", "get_chat"),
    ("PATCH", "/v1/devices/{device_id}/chats/{chat_id}", "chats", "update_chat"),
    ("DELETE", "/v1/devices/{device_id}/chats/{chat_id}", "chats", "delete_chat"),
    ("GET", "/v1/devices/{device_id}/chats/{chat_id}/messages", "chats", "list_chat_messages"),
    ("POST", "/v1/devices/{device_id}/chats/{chat_id}/messages", "chats", "send_to_chat"),
    ("GET", "/v1/devices/{device_id}/chats/{phone}/link", "chats", "chat_link"),

    ("GET", "/v1/devices/{device_id}/contacts", "contacts", "list_contacts"),
    ("GET", "/v1/devices/{device_id}/contacts/{phone}", "contacts", "get_contact"),
    ("PATCH", "/v1/devices/{device_id}/contacts/{phone}", "contacts", "update_contact"),

    ("POST", "/v1/devices", "devices", "create_device"),
    ("GET", "/v1/devices", "devices", "list_devices"),
    ("GET", "/v1/devices/{device_id}", "devices", "get_device"),
    ("PATCH", "/v1/devices/{device_id}", "devices", "update_device"),
    ("DELETE", "/v1/devices/{device_id}", "devices", "delete_device"),
    ("POST", "/v1/devices/{device_id}/sandbox/inbound", "devices", "sandbox_inbound"),

    ("GET", "/v1/events", "events", "list_events"),
    ("GET", "/v1/events/stream", "events", "stream_events"),
    ("GET", "/v1/events/{event_id}", "events", "get_event"),

    ("GET", "/v1/devices/{device_id}/groups", "groups", "list_groups"),
    ("POST", "/v1/devices/{device_id}/groups/sync", "groups", "sync_groups"),
    ("POST", "/v1/devices/{device_id}/groups", "groups", "create_group"),
    ("GET", "/v1/devices/{device_id}/groups/{group_id}", "groups", "get_group"),
    ("PATCH", "/v1/devices/{device_id}/groups/{group_id}", "groups", "update_group"),
    ("POST", "/v1/devices/{device_id}/groups/{group_id}/participants/add", "groups", "add_participants"),
    ("POST", "/v1/devices/{device_id}/groups/{group_id}/participants/remove",
     "groups", "remove_participants"),
    ("POST", "/v1/devices/{device_id}/groups/{group_id}/participants/promote",
     "groups", "promote_participants"),
    ("POST", "/v1/devices/{device_id}/groups/{group_id}/participants/demote",
     "groups", "demote_participants"),
    ("GET", "/v1/devices/{device_id}/groups/{group_id}/invite", "groups", "invite_link"),
    ("POST", "/v1/devices/{device_id}/groups/{group_id}/invite/reset", "groups", "reset_invite"),
    ("GET", "/v1/devices/{device_id}/groups/{group_id}/operations/{operation_id}", "groups", "get_operation"),

    ("POST", "/v1/labels", "labels", "create_label"),
    ("GET", "/v1/labels", "labels", "list_labels"),
    ("GET", "/v1/labels/{label_id}", "labels", "get_label"),
    ("PATCH", "/v1/labels/{label_id}", "labels", "update_label"),
    ("DELETE", "/v1/labels/{label_id}", "labels", "delete_label"),

    ("GET", "/v1/devices/{device_id}/scan", "linking", "scan"),
    ("POST", "/v1/devices/{device_id}/relink", "linking", "relink"),
    ("PATCH", "/v1/devices/{device_id}/profile", "linking", "update_profile"),
    ("POST", "/v1/numbers/exists", "linking", "numbers_exist"),
    ("GET", "/v1/devices/{device_id}/media/{name}", "linking", "inbound_media"),

    ("POST", "/v1/files", "files", "upload_file"),
    ("GET", "/v1/files/{file_id}", "files", "get_file"),
    ("GET", "/v1/files/{file_id}/content", "files", "file_content"),
    ("GET", "/v1/devices/{device_id}/usage", "files", "device_usage"),

    ("POST", "/v1/messages", "messages", "send_message"),
    ("GET", "/v1/messages/{message_id}", "messages", "get_message"),
    ("GET", "/v1/messages", "messages", "list_messages"),
    ("DELETE", "/v1/messages/{message_id}", "messages", "cancel_message"),
    ("PATCH", "/v1/messages/{message_id}", "messages", "edit_message"),
    ("POST", "/v1/messages/{message_id}/revoke", "messages", "revoke_message"),
    ("POST", "/v1/messages/{message_id}/forward", "messages", "forward_message"),

    ("POST", "/v1/numbers/validate", "numbers", "validate_numbers"),

    ("GET", "/v1/auth/config", "people", "auth_config"),
    ("POST", "/v1/signup", "people", "sign_up"),
    ("GET", "/v1/people/me", "people", "people_me"),

    ("GET", "/v1/devices/{device_id}/queue", "queue", "get_queue"),
    ("POST", "/v1/devices/{device_id}/queue/pause", "queue", "pause_queue"),
    ("POST", "/v1/devices/{device_id}/queue/resume", "queue", "resume_queue"),
    ("DELETE", "/v1/devices/{device_id}/queue", "queue", "clear_queue"),

    ("POST", "/v1/devices/{device_id}/sandbox/inbound-edit", "sandbox_changes", "sandbox_inbound_edit"),
    ("POST", "/v1/devices/{device_id}/sandbox/inbound-revoke", "sandbox_changes", "sandbox_inbound_revoke"),
    ("POST", "/v1/devices/{device_id}/sandbox/inbound-media", "sandbox_changes", "sandbox_inbound_media"),

    ("POST", "/v1/devices/{device_id}/sandbox/poll-vote", "sandbox_polls", "sandbox_poll_vote"),

    ("POST", "/v1/devices/{device_id}/status", "status_posts", "post_status"),

    ("GET", "/v1/webhooks/events", "webhooks", "list_webhook_events"),
    ("POST", "/v1/webhooks", "webhooks", "create_webhook"),
    ("GET", "/v1/webhooks", "webhooks", "list_webhooks"),
    ("GET", "/v1/webhooks/{webhook_id}", "webhooks", "get_webhook"),
    ("PATCH", "/v1/webhooks/{webhook_id}", "webhooks", "update_webhook"),
    ("DELETE", "/v1/webhooks/{webhook_id}", "webhooks", "delete_webhook"),
    ("GET", "/v1/webhooks/{webhook_id}/secret", "webhooks", "get_webhook_secret"),
    ("POST", "/v1/webhooks/{webhook_id}/rotate-secret", "webhooks", "rotate_webhook_secret"),
    ("POST", "/v1/webhooks/{webhook_id}/test", "webhooks", "send_webhook_test"),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries", "webhooks", "list_webhook_deliveries"),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}", "webhooks", "get_webhook_delivery"),
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
     "webhooks", "retry_webhook_delivery"),
    ("POST", "/v1/webhooks/{webhook_id}/recover", "webhooks", "recover_webhook_deliveries"),
)
