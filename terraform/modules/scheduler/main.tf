# Cloud Scheduler jobs, one per scheduled function target (names.json `schedules`, via
# modules/catalog). Each calls its function with a POST signed by an OIDC token of the
# push account, which alone may invoke the internal functions: Cloud Run checks the token
# before the request reaches the code, as for Cloud Tasks and Pub/Sub push.

variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "jobs" {
  description = "Target => {name, schedule (cron, UTC), url, timeout (seconds)} of each scheduled function."
  type = map(object({
    name     = string
    schedule = string
    url      = string
    timeout  = number
  }))
}

variable "service_account" {
  description = "Email of the account the jobs sign their requests as (it holds run.invoker on the functions)."
  type        = string
}

resource "google_cloud_scheduler_job" "this" {
  for_each = var.jobs

  project     = var.project_id
  region      = var.region
  name        = each.value.name
  description = "Runs the ${each.key} function (shared/names.py SCHEDULES)."
  schedule    = each.value.schedule
  time_zone   = "Etc/UTC"
  # Cloud Scheduler waits at most 30 minutes for an HTTP target.
  attempt_deadline = "${min(each.value.timeout, 1800)}s"

  # A failed run (an error answer, or no answer in time) is tried twice more; the jobs
  # are idempotent, and the next day's run catches up anyway.
  retry_config {
    retry_count          = 2
    min_backoff_duration = "300s"
    max_backoff_duration = "1800s"
    max_doublings        = 1
  }

  http_target {
    http_method = "POST"
    uri         = each.value.url

    oidc_token {
      service_account_email = var.service_account
      audience              = each.value.url
    }
  }
}

output "jobs" {
  description = "Target => Cloud Scheduler job id."
  value       = { for t, j in google_cloud_scheduler_job.this : t => j.id }
}
