# Cloud Tasks queues, one per name in names.json, with the catalog's rate limits and
# retry policy, and who may add tasks to each.

variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "queues" {
  description = "Queue name => policy (see modules/catalog)."
  type        = any
}

variable "enqueuers" {
  description = "\"queue/component\" => {queue, member}: who may create tasks on which queue."
  type        = map(object({ queue = string, member = string }))
}

resource "google_cloud_tasks_queue" "this" {
  for_each = var.queues

  project  = var.project_id
  location = var.region
  name     = each.key

  rate_limits {
    max_dispatches_per_second = each.value.max_dispatches_per_second
    max_concurrent_dispatches = each.value.max_concurrent_dispatches
  }

  retry_config {
    max_attempts       = each.value.max_attempts
    min_backoff        = each.value.min_backoff
    max_backoff        = each.value.max_backoff
    max_doublings      = each.value.max_doublings
    max_retry_duration = each.value.max_retry_duration
  }

  stackdriver_logging_config {
    sampling_ratio = each.value.log_sampling_ratio
  }
}

resource "google_cloud_tasks_queue_iam_member" "enqueuer" {
  for_each = var.enqueuers

  project  = var.project_id
  location = var.region
  name     = google_cloud_tasks_queue.this[each.value.queue].name
  role     = "roles/cloudtasks.enqueuer"
  member   = each.value.member
}

output "queues" {
  value = { for name, q in google_cloud_tasks_queue.this : name => q.id }
}
