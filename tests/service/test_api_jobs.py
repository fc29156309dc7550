"""A job's JSON, figures, CSV rows and cancel, on both backends."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest

from service.api.schemas import ERROR, JOB

SMALL_BATCH = ("With small batches the batch statistics are noisy. Why not normalize with the "
               "running averages during training, as at test time?")


def queued_job(client, auth) -> int:
    body = client.post("/api/v1/questions", json={"text": SMALL_BATCH, "preset": "smoke"},
                       headers=auth).get_json()
    return body["asks"][0]["job"]["id"]


def test_a_queued_job(client, auth):
    job_id = queued_job(client, auth)
    response = client.get(f"/api/v1/jobs/{job_id}", headers=auth)
    assert response.status_code == 200
    job = JOB.validate(response.get_json())
    assert (job["status"], job["progress"], job["attempts"]) == ("queued", 0.0, 0)
    assert job["result"] is None and job["data_url"] is None
    assert job["type"] == "small_batch_statistics" and job["preset"] == "smoke"
    assert job["params"]["seeds"] >= 1 and len(job["key"]) == 64
    assert client.get(f"/api/v1/jobs/{job_id}/data.csv", headers=auth).status_code == 409


def test_a_succeeded_job_with_its_figures_and_rows(client, auth, finished_job, png,
                                                   result_json):
    job_id = finished_job()
    job = JOB.validate(client.get(f"/api/v1/jobs/{job_id}", headers=auth).get_json())
    assert job["status"] == "succeeded" and job["progress"] == 1.0
    result = job["result"]
    assert result["answer"] == result_json["answer"]
    assert result["figures"] == [{"name": "accuracy", "caption": "Accuracy.",
                                  "url": f"/api/v1/jobs/{job_id}/figures/accuracy"}]

    figure = client.get(result["figures"][0]["url"], headers=auth)
    assert figure.status_code == 200
    assert figure.headers["Content-Type"] == "image/png"
    assert figure.data == png
    assert int(figure.headers["Content-Length"]) == len(png)
    assert figure.headers["ETag"].strip('"') == hashlib.sha256(png).hexdigest()
    assert "max-age" in figure.headers["Cache-Control"]
    again = client.get(result["figures"][0]["url"], headers={
        **auth, "If-None-Match": figure.headers["ETag"]})
    assert again.status_code == 304

    data = client.get(job["data_url"], headers=auth)
    assert data.status_code == 200
    assert data.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in data.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(data.get_data(as_text=True))))
    assert [r["arm"] for r in rows] == ["batchnorm", "ewa_forward"]
    assert rows[0]["test_acc_ci95_lo"] == "0.4" and rows[0]["test_acc_ci95_hi"] == "0.6"
    assert rows[0]["note"] == "" and rows[1]["note"] == ""


def test_cancel_a_queued_job_then_again(client, auth, dispatcher):
    job_id = queued_job(client, auth)
    response = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth)
    assert response.status_code == 200
    assert JOB.validate(response.get_json())["status"] == "cancelled"
    assert dispatcher.stopped == [job_id]
    again = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth)
    assert again.status_code == 409
    assert ERROR.validate(again.get_json())["error"]["code"] == "conflict"


@pytest.mark.parametrize("method, path", [
    ("get", "/api/v1/jobs/999"),
    ("get", "/api/v1/jobs/999/figures/accuracy"),
    ("get", "/api/v1/jobs/999/data.csv"),
    ("post", "/api/v1/jobs/999/cancel"),
    ("get", "/api/v1/jobs/not-a-number"),
    ("get", "/api/v1/no/such/route"),
])
def test_unknown_jobs_and_routes_are_404(client, auth, method, path):
    response = getattr(client, method)(path, headers=auth)
    assert response.status_code == 404
    assert ERROR.validate(response.get_json())["error"]["code"] == "not_found"


def test_unknown_figure_of_a_job_is_404(client, auth, finished_job):
    job_id = finished_job()
    response = client.get(f"/api/v1/jobs/{job_id}/figures/nope", headers=auth)
    assert response.status_code == 404


def test_wrong_method_is_405_in_the_error_shape(client, auth):
    response = client.delete("/api/v1/types", headers=auth)
    assert response.status_code == 405
    assert ERROR.validate(response.get_json())["error"]["code"] == "method_not_allowed"
