from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.fakes import assert_error


def test_a_schedule_years_ahead_is_refused(api, device):
    response = api.post("/v1/messages", json={"phone": "+447911123456", "message": "hi",
                                              "deliver_at": "9999-12-31T23:59:59Z"})
    body = assert_error(response, 422)
    assert "365 days" in body["message"]


def test_a_schedule_within_the_year_is_kept(api, device):
    at = (datetime.now(UTC) + timedelta(days=300)).isoformat()
    response = api.post("/v1/messages", json={"phone": "+447911123456", "message": "hi",
                                              "deliver_at": at})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["status"] == "queued"
