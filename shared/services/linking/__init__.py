"""Linking a device to WhatsApp, and its connection afterwards:

- scan: what the API asks (GET /v1/devices/{id}/scan, a pairing code, relink);
- codes: the current QR or pairing code, which the runner publishes;
- connection: every state the runner reports, recorded and published, and the rule that
  a device disconnected too long becomes non_operative (its owner emailed once).

The API's routes are functions/api/routes/linking.py; the runner's side is
device_runner/ (its transports link and report)."""
